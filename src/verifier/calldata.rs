//! ABI encoding of `ZkinferVerifier.verify(uint256[],bytes)`, through alloy's `sol!` bindings.

use alloy::primitives::{Bytes, U256};
use alloy::sol;
use alloy::sol_types::SolCall;

sol! {
    /// The wrapper's entry point.
    function verify(uint256[] instances, bytes proof) external view returns (bool);
}

/// The 4-byte selector of `verify(uint256[],bytes)`.
pub fn verify_selector() -> [u8; 4] {
    verifyCall::SELECTOR
}

/// Standard ABI encoding of `verify(instances, proof)`; instances are raw 32-byte words so
/// callers can also encode non-canonical values (for tests of the wrapper's checks).
pub fn encode_verify_call(instances: &[[u8; 32]], proof: &[u8]) -> Vec<u8> {
    verifyCall {
        instances: instances.iter().map(|w| U256::from_be_bytes(*w)).collect(),
        proof: Bytes::copy_from_slice(proof),
    }
    .abi_encode()
}

/// Decodes `verify`'s return value: `true` only for exactly one word encoding `true`.
pub fn decode_bool(ret: &[u8]) -> bool {
    ret.len() == 32 && verifyCall::abi_decode_returns_validate(ret).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoding is the ABI's: selector, two offsets, the array (length, words), the bytes
    /// (length, data padded to a word).
    #[test]
    fn verify_call_layout() {
        let data = encode_verify_call(&[[7u8; 32]], &[1, 2, 3]);
        assert_eq!(&data[..4], &verify_selector());
        let word = |i: usize| &data[4 + 32 * i..4 + 32 * (i + 1)];
        assert_eq!(U256::from_be_slice(word(0)), U256::from(0x40));
        assert_eq!(U256::from_be_slice(word(1)), U256::from(0x80));
        assert_eq!(U256::from_be_slice(word(2)), U256::from(1));
        assert_eq!(word(3), &[7u8; 32]);
        assert_eq!(U256::from_be_slice(word(4)), U256::from(3));
        assert_eq!(&word(5)[..3], &[1, 2, 3]);
        assert_eq!(data.len(), 4 + 32 * 6);
        let mut t = [0u8; 32];
        t[31] = 1;
        assert!(decode_bool(&t));
        let mut longer = t.to_vec();
        longer.extend([0u8; 32]);
        assert!(!decode_bool(&longer));
        t[31] = 2;
        assert!(!decode_bool(&t));
        assert!(!decode_bool(&[]));
    }
}
