//! A verifier too large for one contract, as two: `Halo2Verifier` runs the first half of the
//! generated code and hands its memory to `Halo2VerifierTail`, which runs the rest.
//!
//! # Why this is the same verifier
//!
//! snark-verifier's code is one assembly block of top-level statements. Every value it
//! computes lives in memory at a fixed address, or in a `let` inside a nested block, except for
//! four top-level variables: `success` (the running verdict), the two moduli `f_p` and `f_q`
//! (constants) and `data` (only read by the opening check of Solidity's memory layout). The
//! split is between two top-level statements, after the last one that reads calldata, so the
//! second half reads only memory and `success`:
//!
//! - the head ends by calling the tail with its whole memory `[0, msize())` followed by
//!   `success` as calldata (`staticcall`; about 10,000 gas for the copy and the tail's memory);
//! - the tail copies that calldata back to the same addresses, takes `success` from its last
//!   word, declares `f_p` and `f_q` as the head does, and runs the second half, whose verdict
//!   ends as it does in one contract: a revert if anything failed;
//! - on success the tail returns one word, [`TAIL_OK`]; the head accepts only a call that
//!   succeeded and returned exactly that word, so an address without code (which "succeeds"
//!   with no data) never passes.
//!
//! Any other top-level variable of the first half that the second half reads would not cross
//! the call: the split refuses such code (a generator whose output changed) instead of writing
//! a verifier that reads an undefined value.
//!
//! # Where the tail is
//!
//! The head's constructor deploys the tail (`new Halo2VerifierTail()`): the head's first
//! creation, so the tail's address is `keccak256(rlp([head, 1]))`, which the head computes at
//! each call. The head's runtime code therefore has no immutable and one deployment
//! transaction deploys both. A contract at the head's address with the head's runtime code but
//! a different constructor could have put other code there: `chain::check_deployed` compares
//! the tail's code as well.

use super::{Error, Result};

/// The word the tail returns when the proof verifies.
pub const TAIL_OK: &str = "0x7a6b696e6665722e7461696c2e6f6b"; // "zkinfer.tail.ok"

/// The name of the tail contract, in the same source file as `Halo2Verifier`.
pub const TAIL_CONTRACT: &str = "Halo2VerifierTail";

/// The top-level variables that cross the split (module docs); any other one the second half
/// reads is refused.
const CROSSING: [&str; 3] = ["success", "f_p", "f_q"];

/// The source of `Halo2Verifier` (as [`super::halo2_verifier_source`] writes it) as a head and
/// a tail contract in one file. Refuses code that cannot be split soundly (module docs).
pub fn split_verifier(src: &str) -> Result<String> {
    let err =
        |why: &str| Error::Generate(format!("splitting the verifier in two contracts: {why}"));
    let open = "assembly (\"memory-safe\") {";
    let start = find_once(src, open).ok_or_else(|| err("no single assembly block"))? + open.len();
    let end = matching_brace(src, start).ok_or_else(|| err("the assembly block does not close"))?;
    let items = top_level_items(&src[start..end]).ok_or_else(|| err("unbalanced code"))?;

    // The closing verdict (revert on failure, then return) ends both halves: it is not split,
    // and it must be exactly that, once, at the end (a statement after it would run in the
    // head, on memory the second half never wrote).
    let verdicts: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, s)| s.contains("iszero(success)"))
        .map(|(i, _)| i)
        .collect();
    let ending: Vec<String> = items[verdicts.first().copied().unwrap_or(items.len())..]
        .iter()
        .map(|s| code_only(s))
        .collect();
    if verdicts.len() != 1 || ending != ["if iszero(success) { revert(0, 0) }", "return(0, 0)"] {
        return Err(err(
            "the code does not end with one verdict `if iszero(success) { revert(0, 0) }` and `return(0, 0)`",
        ));
    }
    let verdict = verdicts[0];
    let body = &items[..verdict];
    let last_calldata = body
        .iter()
        .rposition(|s| s.contains("calldata"))
        .ok_or_else(|| err("no proof read from calldata"))?;
    let total: usize = body.iter().map(|s| s.len()).sum();
    let mut at = last_calldata + 1;
    let mut before: usize = body[..at].iter().map(|s| s.len()).sum();
    while at < body.len() && before < total / 2 {
        before += body[at].len();
        at += 1;
    }
    if at >= body.len() {
        return Err(err(
            "nothing left for the second contract after the proof is read",
        ));
    }
    let (first, second) = body.split_at(at);

    // Top-level variables: only CROSSING may be read after the split.
    let mut crossing_lets = Vec::new();
    for item in first {
        let Some(name) = top_level_let(item) else {
            continue;
        };
        if CROSSING.contains(&name) {
            if name != "success" {
                crossing_lets.push(item.trim().to_string());
            }
        } else if second.iter().any(|s| mentions(s, name)) {
            return Err(err(&format!(
                "the second half reads the top-level variable `{name}`, which would not cross the call"
            )));
        }
    }
    if crossing_lets.len() != 2 {
        return Err(err(
            "`f_p` and `f_q` are not declared once each at the top level",
        ));
    }
    if second.iter().any(|s| top_level_let(s).is_some()) {
        return Err(err("the second half declares a top-level variable"));
    }
    // Functions go where they are called.
    let functions: Vec<(&str, &String)> = items
        .iter()
        .filter_map(|s| {
            let rest = first_code_line(s)?.strip_prefix("function ")?;
            Some((rest.split('(').next()?.trim(), s))
        })
        .collect();
    let tail_functions: Vec<&String> = functions
        .iter()
        .filter(|(name, _)| {
            second.iter().any(|s| {
                s.contains(&format!("{name}("))
                    && !first_code_line(s).is_some_and(|l| l.starts_with("function "))
            })
        })
        .map(|(_, def)| *def)
        .collect();

    // The second half, with the functions it calls, may read nothing but memory and
    // `success`: no calldata, return data, context or state, and `gas()` only to forward it
    // to a precompile.
    for code in second.iter().chain(tail_functions.iter().copied()) {
        let code = code_only(code);
        if let Some(op) = CONTEXT_OPS.iter().find(|op| code.contains(*op)) {
            return Err(err(&format!(
                "the second half reads `{op}`, which the call would not carry"
            )));
        }
        if code.matches("gas()").count() != code.matches("staticcall(gas(), ").count() {
            return Err(err(
                "the second half reads `gas()` other than to forward it",
            ));
        }
    }

    let mut head = String::new();
    for s in first {
        head.push_str(s);
    }
    head.push_str(&format!(
        "
            // zkinfer: the verifier continues in {TAIL_CONTRACT} (src/verifier/split.rs), deployed by
            // this contract's constructor (its first creation: address keccak256(rlp([this, 1]))),
            // called with this memory and `success`; it returns {TAIL_OK} when the proof verifies.
            {{
                let m := msize()
                mstore(m, success)
                let a := add(m, 0x20)
                mstore(a, or(shl(248, 0xd6), or(shl(240, 0x94), shl(80, address()))))
                mstore8(add(a, 22), 0x01)
                let tail := and(keccak256(a, 23), 0xffffffffffffffffffffffffffffffffffffffff)
                mstore(a, 0)
                success := and(success, staticcall(gas(), tail, 0, a, a, 0x20))
                success := and(success, eq(returndatasize(), 0x20))
                success := and(success, eq(mload(a), {TAIL_OK}))
            }}
"
    ));
    let mut tail = String::from(
        "
            // zkinfer: the second half of Halo2Verifier (src/verifier/split.rs). Its calldata is
            // the head's memory from address 0, then `success`.
            let success := calldataload(sub(calldatasize(), 0x20))
",
    );
    for l in &crossing_lets {
        tail.push_str(&format!("            {l}\n"));
    }
    for def in &tail_functions {
        tail.push_str(def);
    }
    tail.push_str(
        "            if iszero(eq(mload(0x40), 0x80)) { revert(0, 0) }\n            calldatacopy(0, 0, sub(calldatasize(), 0x20))\n",
    );
    for s in second {
        tail.push_str(s);
    }
    tail.push_str(
        "
            if iszero(success) { revert(0, 0) }
",
    );
    tail.push_str(&format!(
        "            mstore(0, {TAIL_OK})\n            return(0, 0x20)\n"
    ));
    for s in &items[verdict..] {
        head.push_str(s);
    }
    head.push_str("        ");
    tail.push_str("        ");
    let prelude = &src[..start];
    let contract_line = "contract Halo2Verifier {";
    let at_contract = find_once(prelude, contract_line)
        .ok_or_else(|| err("no single `contract Halo2Verifier`"))?;
    let head_prelude = format!(
        "{}{contract_line}\n    constructor() {{\n        new {TAIL_CONTRACT}();\n    }}\n{}",
        &prelude[..at_contract],
        &prelude[at_contract + contract_line.len()..].trim_start_matches('\n'),
    );
    let tail_prelude =
        &prelude[at_contract..].replacen(contract_line, &format!("contract {TAIL_CONTRACT} {{"), 1);
    let closing = &src[end..];
    Ok(format!(
        "{head_prelude}{head}{closing}\n{tail_prelude}{tail}{closing}"
    ))
}

/// The offset of the only occurrence of `needle`.
fn find_once(s: &str, needle: &str) -> Option<usize> {
    let mut hits = s.match_indices(needle).map(|(i, _)| i);
    match (hits.next(), hits.next()) {
        (Some(i), None) => Some(i),
        _ => None,
    }
}

/// The offset of the `}` closing the block whose body starts at `start`.
fn matching_brace(s: &str, start: usize) -> Option<usize> {
    let mut depth = 1i64;
    let mut comment = false;
    let b = s.as_bytes();
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'\n' => comment = false,
            b'/' if !comment && b.get(i + 1) == Some(&b'/') => comment = true,
            b'{' if !comment => depth += 1,
            b'}' if !comment => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// `body` as its top-level statements, each with its lines (comments kept with the statement
/// after them); `None` if brackets do not balance.
fn top_level_items(body: &str) -> Option<Vec<String>> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i64;
    for line in body.split_inclusive('\n') {
        let code = line.split("//").next().unwrap_or("");
        for c in code.chars() {
            match c {
                '{' | '(' => depth += 1,
                '}' | ')' => depth -= 1,
                _ => {}
            }
            if depth < 0 {
                return None;
            }
        }
        cur.push_str(line);
        if depth == 0
            && !cur.lines().all(|l| {
                let t = l.trim();
                t.is_empty() || t.starts_with("//")
            })
        {
            items.push(std::mem::take(&mut cur));
        }
    }
    if depth != 0 {
        return None;
    }
    if !cur.trim().is_empty() {
        items.push(cur);
    }
    Some(items)
}

/// What the second half may not read (module docs): everything but memory, the stack and the
/// precompiles.
const CONTEXT_OPS: [&str; 26] = [
    "calldata",
    "returndata",
    "msize",
    "address(",
    "codecopy",
    "codesize",
    "extcode",
    "caller",
    "callvalue",
    "origin",
    "sload",
    "tload",
    "balance",
    "blockhash",
    "timestamp",
    "number(",
    "coinbase",
    "chainid",
    "gasprice",
    "basefee",
    "gaslimit",
    "prevrandao",
    "difficulty",
    "blobhash",
    "blobbasefee",
    "create",
];

/// `item`'s code without comments or blank lines, each line trimmed, joined by newlines.
fn code_only(item: &str) -> String {
    item.lines()
        .map(|l| l.split("//").next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first line of `item` that is not blank or a comment, trimmed.
fn first_code_line(item: &str) -> Option<&str> {
    item.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("//"))
}

/// The variable a top-level `let` statement declares.
fn top_level_let(item: &str) -> Option<&str> {
    let rest = first_code_line(item)?.strip_prefix("let ")?;
    let name = rest.split(":=").next()?.trim();
    (!name.contains(',')).then_some(name)
}

/// Whether `code` uses the identifier `name` (not as part of a longer one).
fn mentions(code: &str, name: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$';
    code.match_indices(name).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + name.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(extra_second: &str) -> String {
        format!(
            "
// SPDX-License-Identifier: MIT

pragma solidity 0.8.19;

contract Halo2Verifier {{
    fallback(bytes calldata) external returns (bytes memory) {{
        assembly (\"memory-safe\") {{
            let data := mload(0x40)
            if iszero(eq(data, 0x80)) {{
                revert(0, 0)
            }}

            let success := true
            let f_p := 0x11
            let f_q := 0x13
            function validate_ec_point(x, y) -> valid {{
                valid := lt(x, f_p)
            }}
            function late(x) -> y {{ y := x }}
            calldatacopy(0xa0, 0, 0x40)
        {{
            let x := calldataload(0x40)
            mstore(0x1e0, x)
            success := and(validate_ec_point(x, x), success)
        }}
mstore(0x200, mulmod(mload(0x1e0), mload(0x1e0), f_q))
mstore(0x220, addmod(mload(0x200), 1, f_q))
mstore(0x240, late(mload(0x220)))
{extra_second}mstore(0x260, mulmod(mload(0x240), 3, f_q))

            // Revert if anything fails
            if iszero(success) {{ revert(0, 0) }}

            // Return empty bytes on success
            return(0, 0)

        }}
    }}
}}
"
        )
    }

    #[test]
    fn the_halves_meet_at_a_statement_after_the_proof_is_read() {
        let out = split_verifier(&generated("")).unwrap();
        let (head, tail) = out.split_once("contract Halo2VerifierTail {").unwrap();
        assert!(
            head.contains("constructor() {\n        new Halo2VerifierTail();"),
            "{out}"
        );
        assert!(head.contains("calldataload(0x40)") && !tail.contains("calldataload(0x40)"));
        assert!(head.contains(&format!("eq(mload(a), {TAIL_OK})")), "{head}");
        assert!(
            head.trim_end()
                .ends_with("return(0, 0)\n        }\n    }\n}"),
            "{head}"
        );
        // The tail: moduli redeclared, memory restored before any statement of the second half,
        // the function it calls (and not the one it does not), its own verdict and word.
        assert!(
            tail.contains("let f_q := 0x13") && tail.contains("let f_p := 0x11"),
            "{tail}"
        );
        assert!(
            tail.contains("function late(") && !tail.contains("validate_ec_point"),
            "{tail}"
        );
        let copy = tail
            .find("calldatacopy(0, 0, sub(calldatasize(), 0x20))")
            .unwrap();
        assert!(copy < tail.find("mstore(0x260").unwrap());
        assert!(tail.contains(&format!(
            "mstore(0, {TAIL_OK})\n            return(0, 0x20)"
        )));
        // Every statement is in exactly one half.
        for s in [
            "mstore(0x200,",
            "mstore(0x220,",
            "mstore(0x240,",
            "mstore(0x260,",
        ] {
            assert_eq!(out.matches(s).count(), 1, "{s}");
        }
    }

    /// Code the split cannot carry over soundly is refused: a second verdict or a statement
    /// after the last (it would run in the head), and a second half (or a function it calls)
    /// reading anything but memory.
    #[test]
    fn code_that_would_not_carry_over_is_refused() {
        let cases = [
            ("if iszero(success) { revert(0, 0) }\n", "one verdict"),
            ("", "one verdict"),
            ("mstore(0x300, returndatasize())\n", "returndata"),
            ("mstore(0x300, address())\n", "address("),
            ("mstore(0x300, gas())\n", "gas()"),
            ("pop(call(gas(), 0x6, 0, 0, 0, 0, 0))\n", "gas()"),
        ];
        for (i, (extra, why)) in cases.iter().enumerate() {
            let src = if i == 1 {
                generated("").replace(
                    "            return(0, 0)\n",
                    "            return(0, 0)\n            mstore(0, 1)\n",
                )
            } else {
                generated(extra)
            };
            let e = split_verifier(&src).unwrap_err().to_string();
            assert!(e.contains(why), "case {i}: {e}");
        }
        // A function the second half calls reads calldata.
        let src = generated("").replace(
            "function late(x) -> y { y := x }",
            "function late(x) -> y { y := calldataload(x) }",
        );
        let e = split_verifier(&src).unwrap_err().to_string();
        assert!(e.contains("calldata"), "{e}");
        // Brackets in comments do not move the statement boundaries.
        let src = generated("// a comment with { and ( in it\n");
        let out = split_verifier(&src).unwrap();
        assert!(out.contains("// a comment with { and ( in it"), "{out}");
    }

    #[test]
    fn a_variable_that_would_not_cross_is_refused() {
        let src = generated("").replace(
            "calldatacopy(0xa0, 0, 0x40)",
            "let kept := 5\n            calldatacopy(0xa0, 0, 0x40)",
        );
        // `kept` declared in the first half and read in the second.
        let src = src.replace(
            "mstore(0x260, mulmod(mload(0x240), 3",
            "mstore(0x260, mulmod(kept, 3",
        );
        let e = split_verifier(&src).unwrap_err();
        assert!(e.to_string().contains("`kept`"), "{e}");
        // Declared after the split: refused as well (it would be the tail's own variable, but
        // the generator never writes one, so the code is not what the split expects).
        let src = generated("let late_var := 5\n");
        let e = split_verifier(&src).unwrap_err();
        assert!(e.to_string().contains("declares"), "{e}");
        // Unbalanced code, or no verdict, is refused rather than guessed at.
        let e = split_verifier(&generated("mstore(0x300, (\n")).unwrap_err();
        assert!(e.to_string().contains("splitting"), "{e}");
        let e = split_verifier(&generated("").replace("if iszero(success)", "if iszero(ok)"))
            .unwrap_err();
        assert!(e.to_string().contains("verdict"), "{e}");
    }
}
