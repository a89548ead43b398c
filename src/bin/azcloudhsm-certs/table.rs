//! Plain-text tables: columns padded to their widest cell, two spaces apart.

/// The table's text, one line per row after the header line.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (column, cell) in cells.iter().enumerate() {
            if column + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let padding = widths[column] - cell.chars().count();
                text.push_str(cell);
                text.push_str(&" ".repeat(padding + 2));
            }
        }
        text.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up_whatever_the_width_of_their_cells() {
        let text = super::render(
            &["A", "LONG HEADER", "Z"],
            &[
                vec!["wide cell".into(), "x".into(), "end".into()],
                vec!["é".into(), "".into(), "".into()],
            ],
        );
        assert_eq!(
            text,
            "A          LONG HEADER  Z\nwide cell  x            end\né\n"
        );
    }
}
