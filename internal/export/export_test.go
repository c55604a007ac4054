package export

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

func TestObjectNamesAreValidDistinctAndIndependentOfOrder(t *testing.T) {
	unique := []string{
		"support_line_1", "SalesTeam", "eu.west.softphone", "Front_Desk", "front-desk", "FRONT.DESK",
		"___", "ünïcode", strings.Repeat("a", 64), strings.Repeat("a", 63) + "b", "team-01",
	}
	names := objectNames(unique)
	reversed := slices.Clone(unique)
	slices.Reverse(reversed)
	if again := objectNames(reversed); !maps.Equal(names, again) {
		t.Errorf("the names depend on the order of the unique names:\n%v\n%v", names, again)
	}
	seen := map[string]string{}
	for _, u := range unique {
		name := names[u]
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			t.Errorf("%q → %q: %v", u, name, errs)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("%q and %q both map to %q", u, other, name)
		}
		seen[name] = u
	}
	for u, want := range map[string]string{"support_line_1": "support-line-1", "SalesTeam": "salesteam", "eu.west.softphone": "eu-west-softphone", "team-01": "team-01"} {
		if names[u] != want {
			t.Errorf("%q → %q, want %q", u, names[u], want)
		}
	}
	for _, u := range []string{"Front_Desk", "front-desk", "FRONT.DESK", strings.Repeat("a", 64), strings.Repeat("a", 63) + "b"} {
		if !strings.HasPrefix(names[u], "front-desk-") && !strings.HasPrefix(names[u], "aaaa") {
			t.Errorf("%q → %q: want its readable part kept", u, names[u])
		}
		if names[u] == "front-desk" || len(names[u]) > 63 {
			t.Errorf("%q → %q: clashing names all get a hash suffix, within 63 characters", u, names[u])
		}
	}
	if !strings.HasPrefix(names["___"], "configuration-") {
		t.Errorf(`"___" → %q, want configuration-<hash>`, names["___"])
	}
}

func TestBuildWritesEveryFieldAsTwilioHoldsIt(t *testing.T) {
	desc := "Ops \"pager\"\nsecond line"
	res := Build(Account{SID: "AC1", DefaultID: "voice_clientconfiguration_2", Configurations: []voice.Configuration{
		{ID: "voice_clientconfiguration_1", UniqueName: "ops_pager", Description: &desc, CallNotification: voice.CallNotification{URL: "https://Ops.example.com:8443/p?a=1", Method: "get"}},
		{ID: "voice_clientconfiguration_2", UniqueName: "web", CallNotification: voice.CallNotification{URL: "https://example.com/", Method: "POST"}},
	}}, Options{CredentialsSecret: "creds", ManagementPolicy: "Manage", DeletionPolicy: "Orphan", Namespace: "voice"})
	var out bytes.Buffer
	if err := WriteStream(&out, res, Options{CredentialsSecret: "creds", ManagementPolicy: "Manage", DeletionPolicy: "Orphan"}); err != nil {
		t.Fatal(err)
	}
	want := `---
apiVersion: voice.twilio-operator.io/v1alpha1
kind: ClientConfiguration
metadata:
  annotations:
    voice.twilio-operator.io/adopt: "true"
  name: ops-pager
  namespace: voice
spec:
  callNotification:
    method: GET
    url: https://Ops.example.com:8443/p?a=1
  credentialsRef:
    name: creds
  deletionPolicy: Orphan
  description: |-
    Ops "pager"
    second line
  managementPolicy: Manage
  uniqueName: ops_pager
---
apiVersion: voice.twilio-operator.io/v1alpha1
kind: ClientConfiguration
metadata:
  annotations:
    voice.twilio-operator.io/adopt: "true"
  name: web
  namespace: voice
spec:
  callNotification:
    method: POST
    url: https://example.com/
  credentialsRef:
    name: creds
  deletionPolicy: Orphan
  managementPolicy: Manage
  uniqueName: web
---
apiVersion: voice.twilio-operator.io/v1alpha1
kind: AccountDefault
metadata:
  name: account-default
  namespace: voice
spec:
  configurationRef:
    name: web
  credentialsRef:
    name: creds
  deletionPolicy: Orphan
`
	_, objects, _ := strings.Cut(out.String(), "---\n")
	if "---\n"+objects != want {
		t.Errorf("the stream's objects:\n%s\nwant:\n%s", "---\n"+objects, want)
	}
	if !strings.HasPrefix(out.String(), "# Exported by `voice-operator export` from Twilio account AC1.") ||
		!strings.Contains(out.String(), "deletionPolicy is Orphan: deleting these objects never deletes anything") {
		t.Errorf("the header does not say where it came from and what deleting does:\n%s", out.String())
	}
}

func TestBuildSkipsWhatNoObjectCouldHoldAndSaysWhy(t *testing.T) {
	long := strings.Repeat("x", 257)
	res := Build(Account{SID: "AC1", DefaultID: "voice_clientconfiguration_3", Configurations: []voice.Configuration{
		{ID: "voice_clientconfiguration_1", UniqueName: long, CallNotification: voice.CallNotification{URL: "https://example.com/", Method: "POST"}},
		{ID: "voice_clientconfiguration_2", UniqueName: "patch", CallNotification: voice.CallNotification{URL: "https://example.com/", Method: "PATCH"}},
		{ID: "voice_clientconfiguration_3", UniqueName: "under", CallNotification: voice.CallNotification{URL: "https://my_host.example.com/", Method: "POST"}},
		{ID: "voice_clientconfiguration_4", UniqueName: "relative", CallNotification: voice.CallNotification{URL: "/notify", Method: "POST"}},
		{ID: "voice_clientconfiguration_5", UniqueName: "ok", CallNotification: voice.CallNotification{URL: "https://example.com/", Method: "POST"}},
	}}, Options{CredentialsSecret: "c", ManagementPolicy: "Manage", DeletionPolicy: "Orphan"})
	if len(res.Objects) != 2 || res.Objects[0].Name != "ok" {
		t.Fatalf("objects %v, want ok and the AccountDefault", res.Objects)
	}
	reasons := map[string]string{}
	for _, s := range res.Skipped {
		reasons[s.UniqueName] = s.Reason
	}
	for name, want := range map[string]string{long: "256 characters", "patch": "neither GET nor POST", "under": "underscore", "relative": "absolute"} {
		if !strings.Contains(reasons[name], want) {
			t.Errorf("%.20q skipped for %q, want a reason mentioning %q", name, reasons[name], want)
		}
	}
	// The default was skipped, so the AccountDefault names it by id.
	spec := res.Objects[1].Content["spec"].(map[string]any)
	if spec["configurationId"] != "voice_clientconfiguration_3" || spec["configurationRef"] != nil {
		t.Errorf("AccountDefault spec %v, want configurationId of the skipped default", spec)
	}
	var out bytes.Buffer
	if err := WriteStream(&out, res, Options{CredentialsSecret: "c", ManagementPolicy: "Manage", DeletionPolicy: "Orphan"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "# Not exported") || !strings.Contains(out.String(), `"patch" (voice_clientconfiguration_2)`) {
		t.Errorf("the header does not list what was skipped:\n%s", out.String())
	}
}

func TestWebhookCredentialsGoToASecretReferenceNeverIntoYAML(t *testing.T) {
	res := Build(Account{SID: "AC1", Configurations: []voice.Configuration{
		{ID: "voice_clientconfiguration_1", UniqueName: "auth", CallNotification: voice.CallNotification{URL: "https://user:s3cret@example.com/notify", Method: "POST"}},
	}}, Options{CredentialsSecret: "c", ManagementPolicy: "Manage", DeletionPolicy: "Orphan"})
	var out bytes.Buffer
	if err := WriteStream(&out, res, Options{CredentialsSecret: "c", ManagementPolicy: "Manage", DeletionPolicy: "Orphan"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "s3cret") {
		t.Fatalf("the webhook password is in the output:\n%s", out.String())
	}
	for _, want := range []string{"url: https://example.com/notify", "basicAuthSecretRef:\n      name: auth-webhook-basic-auth", "auth-webhook-basic-auth (for ClientConfiguration auth)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestObserveOnlyWritesNoAccountDefault(t *testing.T) {
	res := Build(Account{SID: "AC1", DefaultID: "voice_clientconfiguration_1", Configurations: []voice.Configuration{
		{ID: "voice_clientconfiguration_1", UniqueName: "web", CallNotification: voice.CallNotification{URL: "https://example.com/", Method: "POST"}},
	}}, Options{CredentialsSecret: "c", ManagementPolicy: voicev1alpha1.ManagementPolicyObserveOnly, DeletionPolicy: "Orphan"})
	if len(res.Objects) != 1 || res.Objects[0].Kind != "ClientConfiguration" || !strings.Contains(res.DefaultNote, "ObserveOnly") {
		t.Errorf("objects %v, note %q: want the ClientConfiguration only, and a note why", res.Objects, res.DefaultNote)
	}
}

func TestWriteDirRefusesAFullFolderAndForceReplacesOnlyItsOwnFiles(t *testing.T) {
	opts := Options{CredentialsSecret: "c", ManagementPolicy: "Manage", DeletionPolicy: "Orphan"}
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("mine\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "clientconfiguration-gone.yaml"), []byte("stale\n"), 0o600))
	res := Build(Account{SID: "AC1", Configurations: []voice.Configuration{
		{ID: "voice_clientconfiguration_1", UniqueName: "web", CallNotification: voice.CallNotification{URL: "https://example.com/", Method: "POST"}},
	}}, opts)
	if err := WriteDir(dir, res, opts, false); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("WriteDir into a folder with files: %v, want refused", err)
	}
	must(t, WriteDir(dir, res, opts, true))
	var names []string
	entries, err := os.ReadDir(dir)
	must(t, err)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"README.md", "clientconfiguration-web.yaml", "kustomization.yaml"}; !slices.Equal(names, want) {
		t.Errorf("the folder holds %v, want %v: the stale export removed, the person's file kept", names, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
