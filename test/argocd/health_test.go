package argocd_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

const (
	apiVersion          = "voice.twilio-operator.io/v1alpha1"
	clientConfiguration = "ClientConfiguration"
	accountDefault      = "AccountDefault"
)

// kinds are the operator's kinds, each with its own argocd-cm key.
var kinds = []string{clientConfiguration, accountDefault}

// healthCase is one object and what Argo CD (through the shipped script) and
// kstatus (Flux, `kubectl wait`) make of it.
type healthCase struct {
	// reason says what the case is about and, where kstatus and the script
	// disagree, why.
	reason string
	// kinds limits the case to some kinds; empty means every kind.
	kinds []string
	// object is the object's JSON without apiVersion and kind, which the
	// test adds for each kind.
	object string
	// want is the health the script must return.
	want health
	// kstatus is what kstatus.Compute returns for the same object.
	kstatus kstatus.Status
}

var healthCases = map[string]healthCase{
	"no status": {
		reason: "A new object under a CRD from before the status default. kstatus cannot tell it " +
			"from an object that never has conditions and calls it Current; the script waits.",
		object:  `{"metadata": {"name": "web", "namespace": "voice", "generation": 1}}`,
		want:    health{"Progressing", "Waiting for the controller to observe generation 1"},
		kstatus: kstatus.CurrentStatus,
	},
	"defaulted status": {
		reason: "A new object as the apiserver returns it: the CRD defaults status to observedGeneration 0 " +
			"until the controller writes it, so kstatus waits too.",
		object:  `{"metadata": {"name": "web", "namespace": "voice", "generation": 1}, "status": {"observedGeneration": 0}}`,
		want:    health{"Progressing", "Waiting for the controller to observe generation 1"},
		kstatus: kstatus.InProgressStatus,
	},
	"empty status and conditions": {
		reason:  "Status present but empty is the same as no status.",
		object:  `{"metadata": {"name": "web", "generation": 1}, "status": {"conditions": []}}`,
		want:    health{"Progressing", "Waiting for the controller to observe generation 1"},
		kstatus: kstatus.CurrentStatus,
	},
	"observedGeneration behind": {
		reason: "The spec changed (generation 3); Ready=True speaks of generation 2.",
		object: `{"metadata": {"name": "web", "generation": 3}, "status": {"observedGeneration": 2, "conditions": [
			{"type": "Ready", "status": "True", "reason": "Synced", "message": "Remote configuration voice_clientconfiguration_1 matches the spec", "observedGeneration": 2}]}}`,
		want:    health{"Progressing", "Waiting for the controller to observe generation 3"},
		kstatus: kstatus.InProgressStatus,
	},
	"Ready True and current": {
		reason: "The steady state.",
		object: `{"metadata": {"name": "web", "generation": 2}, "status": {"observedGeneration": 2, "conditions": [
			{"type": "Ready", "status": "True", "reason": "Synced", "message": "Remote configuration voice_clientconfiguration_1 matches the spec", "observedGeneration": 2}]}}`,
		want:    health{"Healthy", "Remote configuration voice_clientconfiguration_1 matches the spec"},
		kstatus: kstatus.CurrentStatus,
	},
	"Ready True without condition observedGeneration": {
		reason: "A condition without observedGeneration is judged by status.observedGeneration.",
		object: `{"metadata": {"name": "web", "generation": 1}, "status": {"observedGeneration": 1, "conditions": [
			{"type": "Ready", "status": "True", "reason": "Synced", "message": ""}]}}`,
		want:    health{"Healthy", "Ready"},
		kstatus: kstatus.CurrentStatus,
	},
	"Ready True but its observedGeneration stale": {
		reason: "status.observedGeneration is current but Ready speaks of an older generation. " +
			"kstatus reads only the top-level field and calls it Current; the script does not believe Ready.",
		object: `{"metadata": {"name": "web", "generation": 2}, "status": {"observedGeneration": 2, "conditions": [
			{"type": "Ready", "status": "True", "reason": "Synced", "message": "old news", "observedGeneration": 1}]}}`,
		want:    health{"Progressing", "Waiting for the controller to observe generation 2"},
		kstatus: kstatus.CurrentStatus,
	},
	"Ready True for this generation, status.observedGeneration behind": {
		reason: "Healthy needs both: status.observedGeneration is the controller saying the whole generation was handled.",
		object: `{"metadata": {"name": "web", "generation": 2}, "status": {"observedGeneration": 1, "conditions": [
			{"type": "Ready", "status": "True", "reason": "Synced", "message": "fine", "observedGeneration": 2}]}}`,
		want:    health{"Progressing", "Waiting for the controller to observe generation 2"},
		kstatus: kstatus.InProgressStatus,
	},
	"Ready True without any observedGeneration": {
		reason: "Nothing says which generation Ready speaks of. kstatus skips a missing " +
			"status.observedGeneration and believes Ready; the script does not.",
		object: `{"metadata": {"name": "web", "generation": 1}, "status": {"conditions": [
			{"type": "Ready", "status": "True", "reason": "Synced", "message": "fine"}]}}`,
		want:    health{"Progressing", "Waiting for the controller to observe generation 1"},
		kstatus: kstatus.CurrentStatus,
	},
	"Ready False and Reconciling, retrying": {
		reason: "A transient error on a new generation: the conditions are current, " +
			"status.observedGeneration is not (it moves only when a generation is handled).",
		object: `{"metadata": {"name": "web", "generation": 2}, "status": {"observedGeneration": 1, "conditions": [
			{"type": "Ready", "status": "False", "reason": "RemoteUnavailable", "message": "updating remote configuration: 503 Service Unavailable", "observedGeneration": 2},
			{"type": "Reconciling", "status": "True", "reason": "RemoteUnavailable", "message": "updating remote configuration: 503 Service Unavailable", "observedGeneration": 2}]}}`,
		want:    health{"Progressing", "RemoteUnavailable: updating remote configuration: 503 Service Unavailable"},
		kstatus: kstatus.InProgressStatus,
	},
	"Ready False and Reconciling, first generation": {
		reason: "Waiting for the credentials Secret; no generation was ever handled.",
		object: `{"metadata": {"name": "web", "generation": 1}, "status": {"conditions": [
			{"type": "Ready", "status": "False", "reason": "CredentialsNotFound", "message": "Secret \"twilio-credentials\" not found", "observedGeneration": 1},
			{"type": "Reconciling", "status": "True", "reason": "CredentialsNotFound", "message": "Secret \"twilio-credentials\" not found", "observedGeneration": 1}]}}`,
		want:    health{"Progressing", `CredentialsNotFound: Secret "twilio-credentials" not found`},
		kstatus: kstatus.InProgressStatus,
	},
	"Ready True and Reconciling True": {
		reason: "Reconciling=True vetoes Healthy, as it does in kstatus.",
		object: `{"metadata": {"name": "web", "generation": 1}, "status": {"observedGeneration": 1, "conditions": [
			{"type": "Ready", "status": "True", "reason": "Synced", "message": "fine", "observedGeneration": 1},
			{"type": "Reconciling", "status": "True", "reason": "Progressing", "message": "Updating", "observedGeneration": 1}]}}`,
		want:    health{"Progressing", "Progressing: Updating"},
		kstatus: kstatus.InProgressStatus,
	},
	"Ready Unknown": {
		reason: "Ready neither True nor False, without Reconciling: its own message is the best there is.",
		object: `{"metadata": {"name": "web", "generation": 1}, "status": {"observedGeneration": 1, "conditions": [
			{"type": "Ready", "status": "Unknown", "reason": "Progressing", "message": "Starting", "observedGeneration": 1}]}}`,
		want:    health{"Progressing", "Progressing: Starting"},
		kstatus: kstatus.InProgressStatus,
	},
	"Stalled True and Ready False": {
		reason: "The controller gave up until a person fixes the spec.",
		object: `{"metadata": {"name": "web", "generation": 4}, "status": {"observedGeneration": 4, "conditions": [
			{"type": "Ready", "status": "False", "reason": "InvalidSpec", "message": "creating remote configuration: 400 Bad Request: url is invalid", "observedGeneration": 4},
			{"type": "Stalled", "status": "True", "reason": "InvalidSpec", "message": "creating remote configuration: 400 Bad Request: url is invalid", "observedGeneration": 4}]}}`,
		want:    health{"Degraded", "InvalidSpec: creating remote configuration: 400 Bad Request: url is invalid"},
		kstatus: kstatus.FailedStatus,
	},
	"Stalled True listed before Ready": {
		reason: "Condition order does not matter.",
		object: `{"metadata": {"name": "web", "generation": 1}, "status": {"observedGeneration": 1, "conditions": [
			{"type": "Stalled", "status": "True", "reason": "AlreadyExists", "message": "unique name web is taken", "observedGeneration": 1},
			{"type": "Ready", "status": "False", "reason": "AlreadyExists", "message": "unique name web is taken", "observedGeneration": 1}]}}`,
		want:    health{"Degraded", "AlreadyExists: unique name web is taken"},
		kstatus: kstatus.FailedStatus,
	},
	"Stalled left from an older generation": {
		reason: "Generation 3 may be the fix for what stalled generation 2: wait for the controller, as kstatus does.",
		object: `{"metadata": {"name": "web", "generation": 3}, "status": {"observedGeneration": 2, "conditions": [
			{"type": "Ready", "status": "False", "reason": "InvalidSpec", "message": "bad url", "observedGeneration": 2},
			{"type": "Stalled", "status": "True", "reason": "InvalidSpec", "message": "bad url", "observedGeneration": 2}]}}`,
		want:    health{"Progressing", "Waiting for the controller to observe generation 3"},
		kstatus: kstatus.InProgressStatus,
	},
	"Stalled without observedGeneration, status behind": {
		reason: "A condition without its own observedGeneration is as old as status.observedGeneration.",
		object: `{"metadata": {"name": "web", "generation": 2}, "status": {"observedGeneration": 1, "conditions": [
			{"type": "Stalled", "status": "True", "reason": "InvalidSpec", "message": "bad url"}]}}`,
		want:    health{"Progressing", "Waiting for the controller to observe generation 2"},
		kstatus: kstatus.InProgressStatus,
	},
	"Stalled without any observedGeneration": {
		reason: "Nothing says it is stale, so it is believed, as kstatus believes it.",
		object: `{"metadata": {"name": "web", "generation": 1}, "status": {"conditions": [
			{"type": "Stalled", "status": "True", "message": "bad url"}]}}`,
		want:    health{"Degraded", "bad url"},
		kstatus: kstatus.FailedStatus,
	},
	"paused": {
		reason: "The paused annotation wins, whatever status says; kstatus knows nothing of it.",
		object: `{"metadata": {"name": "web", "generation": 1, "annotations": {"voice.twilio-operator.io/paused": "true"}},
			"status": {"observedGeneration": 1, "conditions": [
			{"type": "Ready", "status": "True", "reason": "Synced", "message": "fine", "observedGeneration": 1}]}}`,
		want:    health{"Suspended", "Reconciliation is paused by the annotation voice.twilio-operator.io/paused"},
		kstatus: kstatus.CurrentStatus,
	},
	"paused while stalled": {
		reason: "Paused comes before Degraded: the person has already stepped in.",
		object: `{"metadata": {"name": "web", "generation": 1, "annotations": {"voice.twilio-operator.io/paused": "true"}},
			"status": {"observedGeneration": 1, "conditions": [
			{"type": "Stalled", "status": "True", "reason": "InvalidSpec", "message": "bad url", "observedGeneration": 1}]}}`,
		want:    health{"Suspended", "Reconciliation is paused by the annotation voice.twilio-operator.io/paused"},
		kstatus: kstatus.FailedStatus,
	},
	"paused annotation not true": {
		reason: `Only the value "true" pauses, as in the controller.`,
		object: `{"metadata": {"name": "web", "generation": 1, "annotations": {"voice.twilio-operator.io/paused": "false"}},
			"status": {"observedGeneration": 1, "conditions": [
			{"type": "Ready", "status": "True", "reason": "Synced", "message": "fine", "observedGeneration": 1}]}}`,
		want:    health{"Healthy", "fine"},
		kstatus: kstatus.CurrentStatus,
	},
	"ObserveOnly with drift": {
		reason: "Under managementPolicy ObserveOnly drift is reported in InSync, not corrected: Healthy, drift in the message.",
		kinds:  []string{clientConfiguration},
		object: `{"metadata": {"name": "web", "generation": 1}, "spec": {"managementPolicy": "ObserveOnly"}, "status": {"observedGeneration": 1, "conditions": [
			{"type": "Ready", "status": "True", "reason": "Synced", "message": "Observing remote configuration voice_clientconfiguration_1 (managementPolicy ObserveOnly: never written)", "observedGeneration": 1},
			{"type": "InSync", "status": "False", "reason": "Drifted", "message": "The remote configuration differs from the spec in: callNotification.url", "observedGeneration": 1}]}}`,
		want: health{"Healthy", "Observing remote configuration voice_clientconfiguration_1 (managementPolicy ObserveOnly: never written)" +
			"; Drifted: The remote configuration differs from the spec in: callNotification.url"},
		kstatus: kstatus.CurrentStatus,
	},
	"in sync": {
		reason: "InSync=True adds nothing to the message.",
		kinds:  []string{clientConfiguration},
		object: `{"metadata": {"name": "web", "generation": 1}, "status": {"observedGeneration": 1, "id": "voice_clientconfiguration_1", "conditions": [
			{"type": "Ready", "status": "True", "reason": "Synced", "message": "Remote configuration voice_clientconfiguration_1 matches the spec", "observedGeneration": 1},
			{"type": "InSync", "status": "True", "reason": "Synced", "message": "The remote configuration matches the spec", "observedGeneration": 1}]}}`,
		want:    health{"Healthy", "Remote configuration voice_clientconfiguration_1 matches the spec"},
		kstatus: kstatus.CurrentStatus,
	},
	"waiting for the referenced configuration": {
		reason: "An AccountDefault whose ClientConfiguration is not Ready yet: it retries, so Progressing, not Degraded.",
		kinds:  []string{accountDefault},
		object: `{"metadata": {"name": "default", "generation": 1}, "status": {"conditions": [
			{"type": "Ready", "status": "False", "reason": "ConfigurationNotReady", "message": "ClientConfiguration web-softphone is not Ready", "observedGeneration": 1},
			{"type": "Reconciling", "status": "True", "reason": "ConfigurationNotReady", "message": "ClientConfiguration web-softphone is not Ready", "observedGeneration": 1}]}}`,
		want:    health{"Progressing", "ConfigurationNotReady: ClientConfiguration web-softphone is not Ready"},
		kstatus: kstatus.InProgressStatus,
	},
	"conflicting AccountDefault": {
		reason: "A second AccountDefault for the same account stalls until one is deleted.",
		kinds:  []string{accountDefault},
		object: `{"metadata": {"name": "second", "generation": 1}, "status": {"observedGeneration": 1, "conditions": [
			{"type": "Ready", "status": "False", "reason": "Conflict", "message": "AccountDefault voice/default already manages account AC1", "observedGeneration": 1},
			{"type": "Stalled", "status": "True", "reason": "Conflict", "message": "AccountDefault voice/default already manages account AC1", "observedGeneration": 1}]}}`,
		want:    health{"Degraded", "Conflict: AccountDefault voice/default already manages account AC1"},
		kstatus: kstatus.FailedStatus,
	},
}

// TestHealth runs every case, for every kind it applies to, through the script
// argocd-cm holds under that kind's key, and through kstatus.
func TestHealth(t *testing.T) {
	scripts := patchScripts(t)
	for name, tc := range healthCases {
		for _, kind := range kinds {
			if len(tc.kinds) > 0 && !slices.Contains(tc.kinds, kind) {
				continue
			}
			t.Run(kind+"/"+name, func(t *testing.T) {
				script, ok := scripts[kind]
				if !ok {
					t.Fatalf("argocd-cm-patch.yaml has no health check for %s", kind)
				}
				obj := decodeObject(t, withKind(t, tc.object, kind))

				got := runHealthScript(t, script, obj)
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("Argo CD health (-want +got):\n%s\ncase: %s", diff, tc.reason)
				}

				res, err := kstatus.Compute(obj)
				if err != nil {
					t.Fatalf("kstatus: %v", err)
				}
				if res.Status != tc.kstatus {
					t.Errorf("kstatus = %s (%s), want %s\ncase: %s", res.Status, res.Message, tc.kstatus, tc.reason)
				}
			})
		}
	}
}

// withKind adds apiVersion and kind to a case's object JSON.
func withKind(t *testing.T, object, kind string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(object), &m); err != nil {
		t.Fatalf("the case's object is not JSON: %v\n%s", err, object)
	}
	m["apiVersion"], m["kind"] = apiVersion, kind
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
