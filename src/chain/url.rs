//! RPC URLs in messages. Hosted endpoints carry their API key in the path, the query or the
//! user info (`https://eth-mainnet.example/v2/KEY`, `https://node?apikey=KEY`,
//! `https://user:pass@node`), so no message shows more than the scheme, host and port, and
//! any text a dependency produced has those parts scrubbed before zkinfer prints it.

/// What is left of a URL fit to print: `scheme://host[:port]`, then `/…` when anything else
/// (a path, a query, user info) was dropped. A string that is not a URL is not echoed at all.
pub fn redact_url(url: &str) -> String {
    match url.trim().parse::<alloy::transports::http::reqwest::Url>() {
        Ok(u) => {
            let mut out = format!("{}://{}", u.scheme(), u.host_str().unwrap_or(""));
            if let Some(p) = u.port() {
                out.push_str(&format!(":{p}"));
            }
            let hidden = (u.path() != "/" && !u.path().is_empty())
                || u.query().is_some()
                || u.fragment().is_some()
                || !u.username().is_empty()
                || u.password().is_some();
            if hidden {
                out.push_str("/…");
            }
            out
        }
        Err(_) => "(the given URL)".into(),
    }
}

/// The substrings of a URL that may be secret.
#[derive(Clone, Debug, Default)]
pub(crate) struct Secrets {
    /// The URL as given and as normalised: replaced by its redacted form.
    whole: Vec<String>,
    /// Its path (and long path segments), query, fragment and user info, longest first:
    /// replaced by `…`.
    parts: Vec<String>,
}

/// The secret substrings of `url`.
pub(crate) fn secret_parts(url: &str) -> Secrets {
    let mut s = Secrets {
        whole: vec![url.trim().to_string()],
        parts: vec![],
    };
    if let Ok(u) = url.trim().parse::<alloy::transports::http::reqwest::Url>() {
        s.whole.push(u.as_str().to_string());
        if u.path().len() > 1 {
            s.parts.push(u.path().to_string());
            s.parts.extend(
                u.path()
                    .split('/')
                    .filter(|p| p.len() >= 4)
                    .map(str::to_string),
            );
        }
        s.parts.extend(u.query().map(str::to_string));
        s.parts.extend(
            u.query()
                .unwrap_or("")
                .split('&')
                .filter_map(|kv| kv.split_once('=').map(|(_, v)| v.to_string())),
        );
        s.parts.extend(u.fragment().map(str::to_string));
        if !u.username().is_empty() {
            s.parts.push(u.username().to_string());
        }
        s.parts.extend(u.password().map(str::to_string));
    }
    for v in [&mut s.whole, &mut s.parts] {
        v.retain(|p| p.len() >= 4);
        v.sort_by_key(|p| std::cmp::Reverse(p.len()));
        v.dedup();
    }
    s
}

/// `text` with the URL replaced by its redacted form `shown` and any other secret part by `…`.
pub(crate) fn scrub(text: &str, secrets: &Secrets, shown: &str) -> String {
    let mut out = text.to_string();
    for w in &secrets.whole {
        out = out.replace(w.as_str(), shown);
    }
    for p in &secrets.parts {
        out = out.replace(p.as_str(), "…");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_survive() {
        for (url, shown) in [
            ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
            (
                "https://eth.example/v2/SeCrEtKeY1234",
                "https://eth.example/…",
            ),
            (
                "https://node.example/?apikey=SeCrEtKeY1234",
                "https://node.example/…",
            ),
            (
                "https://me:SeCrEtKeY1234@node.example",
                "https://node.example/…",
            ),
            ("not a url SeCrEtKeY1234", "(the given URL)"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
            let secrets = secret_parts(url);
            let text =
                format!("error sending request for url ({url}): connection refused; SeCrEtKeY1234");
            let out = scrub(&text, &secrets, &redact_url(url));
            if url.contains("example") {
                assert!(!out.contains("SeCrEtKeY1234"), "{out}");
            }
        }
    }
}
