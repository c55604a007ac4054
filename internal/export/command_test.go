package export

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// run is Main with the environment env and the simulator's URL.
func run(t *testing.T, url string, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), append([]string{"--voice-api-url", url}, args...), &out, &errOut, func(k string) string { return env[k] }, "test")
	return code, out.String(), errOut.String()
}

func TestCommandExportsTheAccountOfTheEnvironmentsCredentials(t *testing.T) {
	sim := voicesim.New(voicesim.Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	const account, token = "AC0123456789abcdef0123456789abcdef", "the-auth-token"
	sim.AddAccount(account, token)
	for _, name := range []string{"b_second", "a.first"} {
		if _, err := sim.CreateOutOfBand(account, voicesim.Record{UniqueName: name, CallNotificationURL: "https://example.com/" + name}); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"TWILIO_ACCOUNT_SID": account, "TWILIO_AUTH_TOKEN": token}
	code, out, errOut := run(t, srv.URL, env)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Index(out, "name: a-first") > strings.Index(out, "name: b-second") || strings.Count(out, "kind: ClientConfiguration") != 2 {
		t.Errorf("want a-first, then b-second:\n%s", out)
	}
	if !strings.Contains(errOut, "2 ClientConfigurations written to stdout") || strings.Contains(out+errOut, token) {
		t.Errorf("stderr %q: want a summary, and never the token", errOut)
	}

	env["TWILIO_AUTH_TOKEN"] = "wrong-token"
	code, out, errOut = run(t, srv.URL, env)
	if code != ExitError || out != "" || !strings.Contains(errOut, "401") || strings.Contains(errOut, "wrong-token") {
		t.Errorf("with a wrong token: exit %d, stdout %q, stderr %q; want 1, nothing written, a 401 without the token", code, out, errOut)
	}
}

func TestCommandRefusesBadInputBeforeAnyCall(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		code int
		want string
	}{
		{nil, map[string]string{}, ExitError, "TWILIO_ACCOUNT_SID is missing"},
		{nil, map[string]string{"TWILIO_ACCOUNT_SID": "AC1"}, ExitError, "TWILIO_AUTH_TOKEN"},
		{[]string{"--management-policy", "Observe"}, nil, ExitUsage, "want Manage or ObserveOnly"},
		{[]string{"--deletion-policy", "Keep"}, nil, ExitUsage, "want Orphan or Delete"},
		{[]string{"-o", "json"}, nil, ExitUsage, "only yaml"},
		{[]string{"--namespace", "Not_A_Namespace"}, nil, ExitUsage, "--namespace"},
		{[]string{"--from-secret", "just-a-name"}, nil, ExitError, "want NAMESPACE/NAME"},
		{[]string{"extra"}, nil, ExitUsage, "unexpected argument"},
	} {
		// The URL is one nothing listens on: any call would fail differently.
		code, out, errOut := run(t, "http://127.0.0.1:1", tc.env, tc.args...)
		if code != tc.code || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v with %v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, tc.env, code, errOut, tc.code, tc.want)
		}
	}
}
