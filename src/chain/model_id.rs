//! Model ids: a name of at most 32 bytes, or 32 bytes of hex.

/// A model id: a name of at most 32 bytes (right-padded with zeros, as Solidity's
/// `bytes32("name")`), or `0x` and 64 hex digits.
pub fn parse_model_id(s: &str) -> std::result::Result<[u8; 32], String> {
    if let Some(h) = s.strip_prefix("0x").filter(|h| h.len() == 64) {
        let b = crate::files::decode_hex(h).map_err(|e| format!("model id '{s}': {e}"))?;
        return b
            .try_into()
            .map_err(|_| format!("model id '{s}': not 32 bytes"));
    }
    if s.is_empty() || s.len() > 32 {
        return Err(format!(
            "model id '{s}': give a name of 1 to 32 bytes, or 0x and 64 hex digits"
        ));
    }
    let mut id = [0u8; 32];
    id[..s.len()].copy_from_slice(s.as_bytes());
    Ok(id)
}

/// A model id for display: its name when it is printable text, else hex.
pub fn show_model_id(id: &[u8; 32]) -> String {
    let end = id.iter().position(|&b| b == 0).unwrap_or(32);
    let (name, rest) = id.split_at(end);
    if !name.is_empty() && rest.iter().all(|&b| b == 0) && name.iter().all(|b| b.is_ascii_graphic())
    {
        String::from_utf8_lossy(name).into_owned()
    } else {
        format!("0x{}", hex::encode(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_round_trip() {
        let id = parse_model_id("credit-v1").unwrap();
        assert_eq!(&id[..9], b"credit-v1");
        assert_eq!(show_model_id(&id), "credit-v1");
        let hex_id = format!("0x{}", "ab".repeat(32));
        assert_eq!(show_model_id(&parse_model_id(&hex_id).unwrap()), hex_id);
        assert!(parse_model_id("").is_err());
        assert!(parse_model_id(&"x".repeat(33)).is_err());
    }
}
