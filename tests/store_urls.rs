//! `CERTSTORAGE_URL` as a `file:` URL through the provider (RFC 8089): the
//! `localhost` host and percent-escapes name the directory the user meant.

mod common;

use common::*;

#[test]
fn a_file_url_with_localhost_and_escapes_stores_blobs_in_the_decoded_directory() {
    let outside = tempfile::tempdir().unwrap();
    let directory = outside.path().join("certificate store %1");
    let url = url::Url::from_directory_path(&directory)
        .unwrap()
        .to_string()
        .replacen("file://", "file://localhost", 1);
    assert!(url.contains("store%20%251"), "{url}");
    let token = TestToken::with_options(TokenOptions::default().with("CERTSTORAGE_URL", &url));
    let handle = token
        .user_session()
        .create_object(&certificate_template("spaced", b"value"))
        .unwrap()
        .handle();
    assert!(
        directory.join(blob_name(handle)).is_file(),
        "no blob in {}",
        directory.display()
    );
    assert!(!token.certificates_dir().join(blob_name(handle)).exists());
}
