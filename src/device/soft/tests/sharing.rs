//! Several devices on one token directory, as several processes would be.

use super::*;

#[test]
fn an_object_created_by_one_instance_is_found_and_usable_by_another() {
    let (dir, device) = logged_in();
    let other = open_logged_in(dir.path());
    let handle = create(
        &device,
        &aes_template(&[5u8; 32], &[bytes(CKA_LABEL, b"shared")]),
    );
    assert_eq!(
        other
            .find_objects(&user_rw(), &[bytes(CKA_LABEL, b"shared")])
            .unwrap(),
        vec![handle]
    );
    let size = other.object_size(&user_rw(), handle).unwrap();
    assert!(size > 32, "size {size}");
}

#[test]
fn an_object_destroyed_by_another_instance_vanishes_here() {
    let (dir, device) = logged_in();
    let other = open_logged_in(dir.path());
    let handle = create(&device, &data_template("doomed"));
    assert_eq!(find_all(&other, &user_rw()), vec![handle]);
    other.destroy_object(&user_rw(), handle).unwrap();
    assert_eq!(find_all(&device, &user_rw()), Vec::<Handle>::new());
    assert!(matches!(
        device.get_attributes(&user_rw(), handle, &[CKA_LABEL]),
        Err(crate::error::Error::ObjectHandleInvalid)
    ));
}

#[test]
fn a_label_changed_by_another_instance_is_seen_here() {
    let (dir, device) = logged_in();
    let other = open_logged_in(dir.path());
    let handle = create(&device, &data_template("before"));
    assert_value(&device, handle, CKA_LABEL, b"before");
    other
        .set_attributes(&user_rw(), handle, &[bytes(CKA_LABEL, b"after")])
        .unwrap();
    assert_value(&device, handle, CKA_LABEL, b"after");
}

#[test]
fn concurrent_writers_with_their_own_instances_lose_nothing() {
    let (dir, _device) = logged_in();
    let writers: Vec<_> = (0..2)
        .map(|writer| {
            let path = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let device = open_logged_in(&path);
                for i in 0..40 {
                    let label = format!("w{writer}-{i}");
                    let handle = create(&device, &data_template(&label));
                    device
                        .set_attributes(
                            &user_rw(),
                            handle,
                            &[bytes(CKA_APPLICATION, label.as_bytes())],
                        )
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let reader = open(dir.path());
    let handles = find_all(&reader, &public_rw());
    assert_eq!(handles.len(), 80);
    for handle in handles {
        let (label, application) = ((handle, CKA_LABEL), (handle, CKA_APPLICATION));
        assert_same_value(&reader, &public_rw(), label, application);
    }
}

#[test]
fn an_instance_holding_the_key_of_a_token_reinitialised_elsewhere_seals_nothing() {
    let (dir, device) = logged_in();
    let other = open(dir.path());
    other.init_token(SO_PIN, "replaced").unwrap();
    let result = device.create_object(&user_rw(), &aes_template(&[1u8; 16], &[]));
    assert!(
        matches!(result, Err(crate::error::Error::UserNotLoggedIn)),
        "{result:?}"
    );
}
