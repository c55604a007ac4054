package localenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// DemoAccountSID is the simulator's built-in demo account, the one
// config/demo/twilio-credentials.yaml names.
const DemoAccountSID = "AC00000000000000000000000000000001"

// Simulator is the Voice API simulator (hack/voicesim) running as its own
// process on a free loopback port.
type Simulator struct {
	*Process
	// URL is where it serves, e.g. http://127.0.0.1:41234.
	URL  string
	http *http.Client
}

// StartSimulator runs the simulator binary on 127.0.0.1 (a free port) and
// waits for the line that says where it listens. Everything it prints goes to
// log.
func StartSimulator(ctx context.Context, binary string, log io.Writer) (*Simulator, error) {
	cmd, stop := command(binary, time.Second, "--addr", "127.0.0.1:0")
	line, p, err := startAnnounced(ctx, "simulator", cmd, stop, log, 15*time.Second)
	if err != nil {
		return nil, err
	}
	url, ok := strings.CutPrefix(line, "listening on ")
	if !ok || !strings.HasPrefix(url, "http://") {
		_ = p.Stop()
		return nil, fmt.Errorf("the simulator said %q, not \"listening on http://...\"", line)
	}
	return &Simulator{Process: p, URL: url, http: &http.Client{Timeout: 5 * time.Second}}, nil
}

// State is the remote side as the simulator holds it: every account, its
// configurations in creation order and its default.
func (s *Simulator) State(ctx context.Context) ([]voicesim.AccountState, error) {
	var body struct {
		Accounts []voicesim.AccountState `json:"accounts"`
	}
	err := s.admin(ctx, http.MethodGet, "/_sim/state", nil, &body)
	return body.Accounts, err
}

// Account returns one account's state; an account the simulator does not
// know is an error.
func (s *Simulator) Account(ctx context.Context, sid string) (voicesim.AccountState, error) {
	accounts, err := s.State(ctx)
	if err != nil {
		return voicesim.AccountState{}, err
	}
	for _, a := range accounts {
		if a.AccountSID == sid {
			return a, nil
		}
	}
	return voicesim.AccountState{}, fmt.Errorf("the simulator has no account %s", sid)
}

// Calls returns the simulator's API call counters, keyed "METHOD route"
// (e.g. "PUT /v2/Configurations/Client/{id}"), for every account together.
func (s *Simulator) Calls(ctx context.Context) (voicesim.CallsReport, error) {
	var report voicesim.CallsReport
	err := s.admin(ctx, http.MethodGet, "/_sim/calls", nil, &report)
	return report, err
}

// AddAccount makes the simulator accept an account with an auth token.
func (s *Simulator) AddAccount(ctx context.Context, sid, token string) error {
	return s.admin(ctx, http.MethodPost, "/_sim/accounts", map[string]string{"account_sid": sid, "auth_token": token}, nil)
}

// admin calls one of the simulator's /_sim/ endpoints with an optional JSON
// body, decoding a JSON answer into out when out is not nil.
func (s *Simulator) admin(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, body)
	if err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}
