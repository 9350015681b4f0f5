//! The FleetLock wire protocol, independent of any HTTP stack.
//!
//! A request is a `POST` with the header `fleet-lock-protocol: true` (it guards against
//! a redirect turning some other request into a lock) and a JSON body
//! `{"client_params": {"id": "…", "group": "…"}}`. Real agents differ in everything
//! else: Zincati sends no `Content-Type`, `curl -d` sends a form type, people send
//! pretty-printed JSON with a trailing newline. So the body is parsed from its raw
//! bytes, whatever the headers say, and unknown fields are ignored.
//!
//! Failures are JSON `{"kind": "…", "value": "…"}` with a 4xx/5xx status. `kind` comes
//! from the closed set [`ErrorKind`], so it can label metrics and alerts; `value` is
//! for people. Zincati treats every non-2xx answer alike, which leaves the server free
//! to say *why*: a full group is `423 Locked` with its own kind, not a generic failure.

use serde::{Deserialize, Serialize};

/// The header every FleetLock request carries, with the value [`PROTOCOL_HEADER_VALUE`].
pub const PROTOCOL_HEADER: &str = "fleet-lock-protocol";
/// The only accepted value of [`PROTOCOL_HEADER`].
pub const PROTOCOL_HEADER_VALUE: &str = "true";
/// The largest request body read; a FleetLock body is under 200 bytes, so anything
/// near this is not one, and reading no further bounds what a client can make us hold.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The longest accepted client id, in bytes. Zincati's ids are 32 hex digits (an
/// app-specific machine id); the cap leaves room for other agents' UUIDs or host names
/// while keeping store records and log lines small.
pub const MAX_ID_BYTES: usize = 256;
/// The longest accepted group name, in bytes.
pub const MAX_GROUP_BYTES: usize = 128;

/// The two FleetLock operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `POST /v1/pre-reboot`: take a slot, or keep the one held (recursive lock).
    PreReboot,
    /// `POST /v1/steady-state`: give the slot back if held (idempotent unlock).
    SteadyState,
}

impl Operation {
    /// The path of the operation relative to the server's base URL.
    pub fn path(self) -> &'static str {
        match self {
            Operation::PreReboot => "/v1/pre-reboot",
            Operation::SteadyState => "/v1/steady-state",
        }
    }
}

/// Who is asking, as the body names it: an id that owns the slot and the group whose
/// semaphore it is asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientParams {
    /// The node's id: non-empty, case-sensitive, at most [`MAX_ID_BYTES`].
    pub id: String,
    /// The group: non-empty, `^[a-zA-Z0-9.-]+$`.
    pub group: String,
}

/// The body of a FleetLock request.
#[derive(Debug, Deserialize)]
struct Body {
    client_params: ClientParams,
}

/// The closed set of error kinds the server answers with: bounded, so that they can
/// be metric labels, and each with one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// 400: the `fleet-lock-protocol: true` header is missing or has another value.
    MissingHeader,
    /// 400: the body is not the JSON the protocol defines.
    FailedDecodingRequest,
    /// 400: the id or group is empty, too long, or not allowed characters.
    InvalidClientIdentity,
    /// 400: the group is not configured on this server.
    UnknownGroup,
    /// 423: every slot of the group is held by others.
    FailedLockSemaphoreFull,
    /// 405: the route exists but not for this method.
    MethodNotAllowed,
    /// 413: the body is larger than [`MAX_BODY_BYTES`].
    RequestTooLarge,
    /// 401: an admin route without a valid admin token.
    Unauthorized,
    /// 403: an admin route on a server that has no admin tokens configured.
    AdminDisabled,
    /// 404: no such route, or no such holder to release.
    NotFound,
    /// 400: a graph request without `basearch` or `stream`, or with a bad value.
    InvalidGraphRequest,
    /// 400: a graph request for a stream this server does not serve.
    UnknownStream,
    /// 503: the stream's repository or release metadata cannot be read.
    GraphUnavailable,
    /// 406: the pool's config uses a field the requested Ignition spec lacks.
    UnsupportedIgnitionVersion,
    /// 403: a token sent over plain HTTP from another machine (tokens travel only
    /// over HTTPS or on loopback).
    InsecureTransport,
    /// 409: the lock's compare-and-swap met a concurrent change and the server was
    /// configured to refuse rather than retry (`[lock] conflicts = "refuse"`,
    /// Airlock's behaviour, for comparisons).
    FailedLockConflict,
    /// 503: the store could not be read or written; nothing was changed.
    StoreUnavailable,
    /// 500: anything else.
    InternalError,
}

impl ErrorKind {
    /// The kind as it appears in the JSON `kind` field and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::MissingHeader => "missing_header",
            ErrorKind::FailedDecodingRequest => "failed_decoding_request",
            ErrorKind::InvalidClientIdentity => "invalid_client_identity",
            ErrorKind::UnknownGroup => "unknown_group",
            ErrorKind::FailedLockSemaphoreFull => "failed_lock_semaphore_full",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::RequestTooLarge => "request_too_large",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::AdminDisabled => "admin_disabled",
            ErrorKind::NotFound => "not_found",
            ErrorKind::InvalidGraphRequest => "invalid_graph_request",
            ErrorKind::UnknownStream => "unknown_stream",
            ErrorKind::GraphUnavailable => "graph_unavailable",
            ErrorKind::UnsupportedIgnitionVersion => "unsupported_ignition_version",
            ErrorKind::InsecureTransport => "insecure_transport",
            ErrorKind::FailedLockConflict => "failed_lock_conflict",
            ErrorKind::StoreUnavailable => "store_unavailable",
            ErrorKind::InternalError => "internal_error",
        }
    }

    /// The HTTP status this kind is answered with.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::MissingHeader
            | ErrorKind::FailedDecodingRequest
            | ErrorKind::InvalidClientIdentity
            | ErrorKind::UnknownGroup
            | ErrorKind::InvalidGraphRequest
            | ErrorKind::UnknownStream => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::AdminDisabled | ErrorKind::InsecureTransport => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::FailedLockConflict => 409,
            ErrorKind::UnsupportedIgnitionVersion => 406,
            ErrorKind::RequestTooLarge => 413,
            ErrorKind::FailedLockSemaphoreFull => 423,
            ErrorKind::InternalError => 500,
            ErrorKind::StoreUnavailable | ErrorKind::GraphUnavailable => 503,
        }
    }
}

/// A refused request: the `{"kind","value"}` document and its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{value} ({})", kind.as_str())]
pub struct ProtocolError {
    /// What kind of failure, from the bounded set.
    pub kind: ErrorKind,
    /// What happened, for people.
    pub value: String,
}

impl ProtocolError {
    /// An error of `kind` saying `value`.
    pub fn new(kind: ErrorKind, value: impl Into<String>) -> Self {
        ProtocolError {
            kind,
            value: value.into(),
        }
    }

    /// The JSON body of the answer.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "kind": self.kind.as_str(), "value": self.value }).to_string()
    }
}

/// Checks the value of the `fleet-lock-protocol` header (`None` when absent).
pub fn check_header(value: Option<&[u8]>) -> Result<(), ProtocolError> {
    match value {
        Some(v) if v == PROTOCOL_HEADER_VALUE.as_bytes() => Ok(()),
        Some(_) => Err(ProtocolError::new(
            ErrorKind::MissingHeader,
            format!("header '{PROTOCOL_HEADER}' must be '{PROTOCOL_HEADER_VALUE}'"),
        )),
        None => Err(ProtocolError::new(
            ErrorKind::MissingHeader,
            format!("missing header '{PROTOCOL_HEADER}: {PROTOCOL_HEADER_VALUE}'"),
        )),
    }
}

/// Parses and validates a FleetLock body from its raw bytes.
pub fn parse_body(body: &[u8]) -> Result<ClientParams, ProtocolError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ProtocolError::new(
            ErrorKind::RequestTooLarge,
            format!("request body over {MAX_BODY_BYTES} bytes"),
        ));
    }
    let body: Body = serde_json::from_slice(body).map_err(|e| {
        ProtocolError::new(
            ErrorKind::FailedDecodingRequest,
            format!("request body is not a FleetLock request: {e}"),
        )
    })?;
    let params = body.client_params;
    validate_id(&params.id)?;
    validate_group(&params.group)?;
    Ok(params)
}

/// Checks a client id: non-empty, at most [`MAX_ID_BYTES`], no control characters
/// (ids end up in logs and the audit log, one per line).
pub fn validate_id(id: &str) -> Result<(), ProtocolError> {
    let refuse = |why: &str| Err(ProtocolError::new(ErrorKind::InvalidClientIdentity, why));
    if id.is_empty() {
        return refuse("client_params.id is empty");
    }
    if id.len() > MAX_ID_BYTES {
        return refuse(&format!(
            "client_params.id is longer than {MAX_ID_BYTES} bytes"
        ));
    }
    if id.chars().any(char::is_control) {
        return refuse("client_params.id contains control characters");
    }
    Ok(())
}

/// Whether `group` is a valid group name: non-empty, `^[a-zA-Z0-9.-]+$`, at most
/// [`MAX_GROUP_BYTES`].
pub fn is_valid_group(group: &str) -> bool {
    !group.is_empty()
        && group.len() <= MAX_GROUP_BYTES
        && group
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// Checks a group name with [`is_valid_group`].
pub fn validate_group(group: &str) -> Result<(), ProtocolError> {
    if group.is_empty() {
        return Err(ProtocolError::new(
            ErrorKind::InvalidClientIdentity,
            "client_params.group is empty",
        ));
    }
    if !is_valid_group(group) {
        return Err(ProtocolError::new(
            ErrorKind::InvalidClientIdentity,
            format!(
                "client_params.group must match ^[a-zA-Z0-9.-]+$ and be at most {MAX_GROUP_BYTES} bytes"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zincati_body_pretty_printed_with_unknown_fields() {
        let body = b"{\n  \"client_params\": {\n    \"id\": \"c988d2509fdf4cdcbed39037c56406fb\",\n    \"group\": \"workers\",\n    \"extra\": 1\n  },\n  \"more\": true\n}\n";
        let params = parse_body(body).unwrap();
        assert_eq!(params.id, "c988d2509fdf4cdcbed39037c56406fb");
        assert_eq!(params.group, "workers");
    }

    #[test]
    fn bad_bodies_have_their_kinds() {
        let kind = |b: &[u8]| parse_body(b).unwrap_err().kind;
        assert_eq!(kind(b"not json"), ErrorKind::FailedDecodingRequest);
        assert_eq!(kind(b"{}"), ErrorKind::FailedDecodingRequest);
        assert_eq!(
            kind(br#"{"client_params":{"id":1,"group":"g"}}"#),
            ErrorKind::FailedDecodingRequest
        );
        assert_eq!(
            kind(br#"{"client_params":{"id":"","group":"g"}}"#),
            ErrorKind::InvalidClientIdentity
        );
        assert_eq!(
            kind(br#"{"client_params":{"id":"a","group":""}}"#),
            ErrorKind::InvalidClientIdentity
        );
        assert_eq!(
            kind(br#"{"client_params":{"id":"a","group":"a b"}}"#),
            ErrorKind::InvalidClientIdentity
        );
        let huge = format!(
            r#"{{"client_params":{{"id":"{}","group":"g"}}}}"#,
            "a".repeat(MAX_ID_BYTES + 1)
        );
        assert_eq!(kind(huge.as_bytes()), ErrorKind::InvalidClientIdentity);
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(kind(&big), ErrorKind::RequestTooLarge);
    }

    #[test]
    fn header_must_be_exactly_true() {
        assert!(check_header(Some(b"true")).is_ok());
        assert_eq!(
            check_header(Some(b"yes")).unwrap_err().kind,
            ErrorKind::MissingHeader
        );
        assert_eq!(
            check_header(None).unwrap_err().kind,
            ErrorKind::MissingHeader
        );
    }

    #[test]
    fn error_json_is_kind_and_value() {
        let e = ProtocolError::new(ErrorKind::FailedLockSemaphoreFull, "all 2 slots held");
        assert_eq!(
            e.to_json(),
            r#"{"kind":"failed_lock_semaphore_full","value":"all 2 slots held"}"#
        );
        assert_eq!(e.kind.status(), 423);
    }
}
