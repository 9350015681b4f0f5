//! Byte counts for people, as GLib's `g_format_size` prints them: `ostree` shows sizes
//! this way (`summary -v`, `pull`, `static-delta show`), and scripts compare the text.

/// `size` in GLib's default form: "1 byte", "999 bytes", then SI units with one decimal
/// ("1.0 kB", "37.5 kB", "4.2 GB").
pub fn format_size(size: u64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    match size {
        1 => "1 byte".into(),
        0..1000 => format!("{size} bytes"),
        _ => {
            let mut value = size as f64 / 1000.0;
            let mut unit = 0;
            while value >= 1000.0 && unit + 1 < UNITS.len() {
                value /= 1000.0;
                unit += 1;
            }
            format!("{value:.1} {}", UNITS[unit])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::format_size;

    #[test]
    fn sizes_read_as_glib_writes_them() {
        assert_eq!(format_size(0), "0 bytes");
        assert_eq!(format_size(1), "1 byte");
        assert_eq!(format_size(134), "134 bytes");
        assert_eq!(format_size(999), "999 bytes");
        assert_eq!(format_size(1000), "1.0 kB");
        assert_eq!(format_size(19_600), "19.6 kB");
        assert_eq!(format_size(37_512), "37.5 kB");
        assert_eq!(format_size(4_200_000_000), "4.2 GB");
        assert_eq!(format_size(u64::MAX), "18.4 EB");
    }
}
