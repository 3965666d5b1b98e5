package agent

import (
	"context"
	"errors"
	"net/http"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// rotate asks the server for a new credential for this host, authenticated by the current one.
func (c *Client) rotate(ctx context.Context, reason string) (wire.RotateResponse, error) {
	var out wire.RotateResponse
	if err := c.do(ctx, http.MethodPost, wire.PathRotate, wire.RotateRequest{Reason: reason}, &out); err != nil {
		return out, err
	}
	if out.HostID == "" || out.Credential == "" {
		return out, errors.New("rotate: the server's answer has no host_id or credential")
	}
	return out, nil
}
