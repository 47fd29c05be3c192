//! A5: the TOTP enrolment's QR code, drawn here as inline SVG (no third-party service learns
//! the secret, and the page's CSP needs no image source).

use qrcodegen::{QrCode, QrCodeEcc};

/// The QR code of `text` as an SVG element: one path of dark modules, a four-module quiet
/// zone. Its markup holds only numbers and fixed text, never `text` itself.
pub fn svg(text: &str) -> Option<String> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let size = qr.size();
    let border = 4;
    let mut path = String::with_capacity(usize::try_from(size * size * 6).unwrap_or(0));
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let full = size + 2 * border;
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr\" viewBox=\"0 0 {full} {full}\" \
         shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"QR code for an authenticator app\">\
         <rect width=\"{full}\" height=\"{full}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_svg_holds_no_input_text() {
        let svg = svg("otpauth://totp/Acme:alice?secret=GEZDGNBV<script>").unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains("GEZDGNBV") && !svg.contains("<script"));
    }
}
