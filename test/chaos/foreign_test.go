package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// TestForeignConfigurationSurvivesRestarts plays the race that cost a
// Console configuration its life before ownership had to be proved: the
// configuration appears between the operator's name check and its POST,
// and the POST's answer is lost (a 503, a timeout, a reset connection).
// The operator is SIGKILLed right then, with its create-intent marker on
// the object and no id, and started again. The configuration someone else
// made must come out byte for byte as it went in, after the restart, two
// resyncs, and a delete of the object.
func TestForeignConfigurationSurvivesRestarts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "foreign-"}}
	must(t, env.Client.Create(ctx, ns))
	account := fmt.Sprintf("AC%032x", time.Now().UnixNano())
	must(t, env.CreateSecret(ctx, ns.Name, "creds", account, "token-foreign"))

	faults := []string{"503", "timeout", "reset"}
	race := &racer{account: account, faults: map[string]string{}, done: map[string]bool{}}
	for _, f := range faults {
		race.faults["taken-"+f] = f
	}
	api := httptest.NewServer(race.wrap(env.Sim))
	defer api.Close()
	args := []string{"--voice-api-url", api.URL, "--voice-api-timeout", "2s", "--resync-period", "2s", "--late-commit-window", "5s"}
	first, err := startOperator(ctx, t, args...)
	must(t, err)

	objs := make([]*voicev1alpha1.ClientConfiguration, len(faults))
	for i, f := range faults {
		objs[i] = upgradeObject(ns.Name, "taken-"+f)
		objs[i].Spec.CredentialsRef.Name = "creds"
		must(t, env.Client.Create(ctx, objs[i]))
	}
	kube.WaitFor(ctx, t, "every racing POST", func() bool {
		for _, obj := range objs {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil || !race.raced(obj.Spec.UniqueName) ||
				obj.Annotations[voicev1alpha1.AnnotationCreateIntent] == "" {
				return false
			}
		}
		return true
	})
	first.Kill()
	original := map[string]voicesim.Record{}
	for _, r := range env.Sim.Configurations(account) {
		original[r.UniqueName] = r
	}
	if len(original) != len(faults) {
		t.Fatalf("the race planted %d configurations, want %d: %+v", len(original), len(faults), original)
	}
	env.Sim.ResetCalls()

	_, err = startOperator(ctx, t, args...)
	must(t, err)
	for _, obj := range objs {
		waitReason(ctx, t, obj, voicev1alpha1.ReasonAlreadyExists)
	}
	quiet := time.Now().Add(5 * time.Second)
	kube.WaitFor(ctx, t, "two quiet resyncs", func() bool {
		assertUntouched(t, account, original)
		return time.Now().After(quiet)
	})
	for _, obj := range objs {
		must(t, env.Client.Delete(ctx, obj))
	}
	kube.WaitFor(ctx, t, "the objects to go", func() bool {
		for _, obj := range objs {
			if env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj) == nil {
				return false
			}
		}
		return true
	})
	assertUntouched(t, account, original)
	calls := env.Sim.Calls()
	t.Logf("after the restart: %v", sortedMap(calls))
	for _, route := range []string{"PUT " + voicesim.RouteInstance, "DELETE " + voicesim.RouteInstance, "POST " + voicesim.RouteCollection} {
		if calls[route] != 0 {
			t.Errorf("%s: %d calls after the restart, want none", route, calls[route])
		}
	}
}

// postedName reads the unique_name of a create or update body, leaving the
// body for the handler.
func postedName(r *http.Request) string {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var in struct {
		UniqueName string `json:"unique_name"`
	}
	_ = json.Unmarshal(body, &in)
	return in.UniqueName
}

func assertUntouched(t *testing.T, account string, original map[string]voicesim.Record) {
	t.Helper()
	now := env.Sim.Configurations(account)
	if len(now) != len(original) {
		t.Fatalf("%d configurations, want the %d someone else made", len(now), len(original))
	}
	for _, r := range now {
		got, _ := json.Marshal(r)
		want, _ := json.Marshal(original[r.UniqueName])
		if !bytes.Equal(got, want) {
			t.Fatalf("%s changed:\nbefore %s\nafter  %s", r.UniqueName, want, got)
		}
	}
}

// racer plants a Console configuration with the unique name of the first
// POST for each of its names, then fails that POST as faults says.
type racer struct {
	account string
	faults  map[string]string
	mu      sync.Mutex
	done    map[string]bool
}

func (r *racer) raced(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done[name]
}

func (r *racer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != voicesim.RouteCollection {
			next.ServeHTTP(w, req)
			return
		}
		name := postedName(req)
		r.mu.Lock()
		fault, racing := r.faults[name]
		first := racing && !r.done[name]
		r.mu.Unlock()
		if !first {
			next.ServeHTTP(w, req)
			return
		}
		d := "console-made"
		if _, err := env.Sim.CreateOutOfBand(r.account, voicesim.Record{UniqueName: name, Description: &d,
			CallNotificationURL: "https://console.example.com/theirs", CallNotificationMethod: "GET"}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		r.mu.Lock()
		r.done[name] = true
		r.mu.Unlock()
		switch fault {
		case "503":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "timeout":
			select {
			case <-req.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "reset":
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				_ = conn.Close()
			}
		}
	})
}
