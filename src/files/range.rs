//! The `Range` header of downloads. One range is served as 206; several are answered with
//! the whole file (allowed by RFC 9110, and no player asks for more than one); a range that
//! cannot be satisfied is 416.

use std::ops::Range;

#[derive(Debug, PartialEq, Eq)]
pub enum Requested {
    Whole,
    /// Byte offsets, end exclusive.
    Part(Range<u64>),
    Unsatisfiable,
}

/// What `header` (the `Range` value, if any) asks of a file of `size` bytes.
pub fn requested(header: Option<&str>, size: u64) -> Requested {
    let Some(header) = header else {
        return Requested::Whole;
    };
    let Ok(parsed) = http_range_header::parse_range_header(header) else {
        return Requested::Unsatisfiable;
    };
    match parsed.validate(size) {
        Ok(ranges) if ranges.len() == 1 => {
            let range = &ranges[0];
            Requested::Part(*range.start()..*range.end() + 1)
        }
        Ok(_) => Requested::Whole,
        Err(_) => Requested::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(requested(None, 10), Requested::Whole);
        assert_eq!(requested(Some("bytes=2-4"), 10), Requested::Part(2..5));
        assert_eq!(requested(Some("bytes=7-"), 10), Requested::Part(7..10));
        assert_eq!(requested(Some("bytes=-3"), 10), Requested::Part(7..10));
        assert_eq!(requested(Some("bytes=0-1,4-5"), 10), Requested::Whole);
        assert_eq!(requested(Some("bytes=20-30"), 10), Requested::Unsatisfiable);
        assert_eq!(requested(Some("lines=1-2"), 10), Requested::Unsatisfiable);
    }
}
