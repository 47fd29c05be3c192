//! What the console's forms send, as the use cases take it.

/// A textarea of one value per line: trimmed, blank lines dropped.
pub fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// A field of space-separated values.
pub fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// An `<input type="datetime-local">` value (`YYYY-MM-DDTHH:MM[:SS]`, read as UTC) as Unix
/// seconds; `None` for an empty field, `Err` for anything else.
pub fn datetime_local(value: &str) -> Result<Option<i64>, &'static str> {
    const BAD: &str = "times look like 2026-12-04T09:30";
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let (date, time) = value.split_once('T').ok_or(BAD)?;
    let num = |s: &str| s.parse::<i64>().map_err(|_| BAD);
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    if d.len() != 3 || !(2..=3).contains(&t.len()) || d[0].len() != 4 {
        return Err(BAD);
    }
    let (year, month, day) = (num(d[0])?, num(d[1])?, num(d[2])?);
    let (hour, minute, second) = (num(t[0])?, num(t[1])?, t.get(2).map_or(Ok(0), |s| num(s))?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return Err(BAD);
    }
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(Some(days * 86_400 + hour * 3600 + minute * 60 + second))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_become_lists_and_times() {
        assert_eq!(
            lines(" https://a.example/cb \n\n https://b.example/cb\r\n"),
            ["https://a.example/cb", "https://b.example/cb"]
        );
        assert_eq!(words("  openid   profile "), ["openid", "profile"]);
        assert_eq!(datetime_local(""), Ok(None));
        assert_eq!(datetime_local("1970-01-01T00:00"), Ok(Some(0)));
        assert_eq!(datetime_local("2000-02-29T00:00"), Ok(Some(951_782_400)));
        assert_eq!(datetime_local("2026-12-04T04:53:20"), Ok(Some(1_796_360_000)));
        for bad in ["2026-13-01T00:00", "yesterday", "2026-12-04", "2026-12-04T25:00", "26-12-04T00:00"] {
            assert!(datetime_local(bad).is_err(), "{bad}");
        }
    }
}
