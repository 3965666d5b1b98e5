package wire

// PathRotate: POST RotateRequest → 200 RotateResponse, authenticated by the host's current
// credential. The server keeps the current credential valid until the new one is first used,
// so an answer lost to a crash or a network cut costs nothing: the agent keeps the old one and
// asks again. The agent saves the new one (agent.json, atomically) before it uses it.
const PathRotate = "/api/v1/agent/rotate"

// RotateRequest asks for a new host credential.
type RotateRequest struct {
	// Reason is shown in the server's audit log: RotateManual or RotateScheduled.
	Reason string `json:"reason"`
}

// Rotation reasons.
const (
	RotateManual    = "manual"    // `firewarden agent rotate`
	RotateScheduled = "scheduled" // the daemon, when the credential reached its age
)

// RotateResponse is the new credential, shown once. HostID does not change.
type RotateResponse struct {
	HostID     string `json:"host_id"`
	Credential string `json:"credential"`
}

// Error is the body of every answer other than 200: a sentence for people and, where the agent
// must act on it, a Code.
type Error struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

// Error codes.
const (
	// CodeRevoked: the host credential or the enroll secret was revoked by an admin. Retrying
	// cannot help; only enrolling again (with a current secret) does.
	CodeRevoked = "revoked"
)
