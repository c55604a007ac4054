package export

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

// Account is what export reads from Twilio: every configuration, and the id
// of the default ("" when none is set).
type Account struct {
	SID            string
	Configurations []voice.Configuration
	DefaultID      string
}

// Options are the choices of the person exporting.
type Options struct {
	// CredentialsSecret is the Secret every object's credentialsRef names.
	CredentialsSecret string
	// ManagementPolicy is every ClientConfiguration's: Manage or
	// ObserveOnly. Under ObserveOnly no AccountDefault is written: it has no
	// such policy, and it would set the default.
	ManagementPolicy voicev1alpha1.ManagementPolicy
	// DeletionPolicy is every object's: Orphan (deleting the YAML leaves
	// Twilio as it is) or Delete.
	DeletionPolicy voicev1alpha1.DeletionPolicy
	// Namespace, if set, is every object's metadata.namespace.
	Namespace string
}

// Object is one exported object, ready to render.
type Object struct {
	// Kind and Name make its file name.
	Kind, Name string
	// Content is the object as a map, rendered with sorted keys.
	Content map[string]any
}

// Skipped is a remote configuration that cannot be written as a
// ClientConfiguration the API server accepts and the operator would leave
// untouched.
type Skipped struct {
	ID, UniqueName, Reason string
}

// Result is what Build decided.
type Result struct {
	Account string
	Objects []Object
	Skipped []Skipped
	// BasicAuthSecrets lists, by object name, the Secrets an object needs
	// before it can be applied without a change: its webhook URL carries
	// credentials, which belong in a Secret and never in YAML.
	BasicAuthSecrets map[string]string
	// DefaultNote says why no AccountDefault was written, if none was.
	DefaultNote string
}

// Build turns the account into objects: ClientConfigurations in the order
// of their object names, then the AccountDefault.
func Build(acct Account, opts Options) Result {
	res := Result{Account: acct.SID, BasicAuthSecrets: map[string]string{}}
	var exportable []voice.Configuration
	for _, c := range acct.Configurations {
		if reason := unrepresentable(c); reason != "" {
			res.Skipped = append(res.Skipped, Skipped{ID: c.ID, UniqueName: c.UniqueName, Reason: reason})
			continue
		}
		exportable = append(exportable, c)
	}
	slices.SortFunc(res.Skipped, func(a, b Skipped) int { return strings.Compare(a.UniqueName, b.UniqueName) })

	uniqueNames := make([]string, 0, len(exportable))
	for _, c := range exportable {
		uniqueNames = append(uniqueNames, c.UniqueName)
	}
	names := objectNames(uniqueNames)
	slices.SortFunc(exportable, func(a, b voice.Configuration) int { return strings.Compare(names[a.UniqueName], names[b.UniqueName]) })

	defaultName := ""
	for _, c := range exportable {
		name := names[c.UniqueName]
		obj, secret := clientConfiguration(name, c, opts)
		if secret != "" {
			res.BasicAuthSecrets[name] = secret
		}
		res.Objects = append(res.Objects, obj)
		if c.ID == acct.DefaultID {
			defaultName = name
		}
	}

	switch {
	case acct.DefaultID == "":
		res.DefaultNote = "the account has no default configuration"
	case opts.ManagementPolicy == voicev1alpha1.ManagementPolicyObserveOnly:
		res.DefaultNote = "an AccountDefault has no ObserveOnly policy (it sets the default), so none is written with --management-policy ObserveOnly"
	default:
		res.Objects = append(res.Objects, accountDefault(defaultName, acct.DefaultID, opts))
	}
	return res
}

// unrepresentable says why a configuration cannot be exported exactly, or
// "" when it can: the CRD would refuse a field, or the operator would find
// the object's spec different from the remote side and change it.
func unrepresentable(c voice.Configuration) string {
	name := c.UniqueName
	switch {
	case name == "":
		return "it has no unique name"
	case utf8.RuneCountInString(name) > 256:
		return "its unique name is longer than the 256 characters spec.uniqueName allows"
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.In(r, unicode.Z, unicode.C) }) >= 0:
		return "its unique name contains whitespace or control characters, which spec.uniqueName refuses"
	case utf8.RuneCountInString(deref(c.Description)) > 1024:
		return "its description is longer than the 1024 characters spec.description allows"
	case !strings.EqualFold(c.CallNotification.Method, "GET") && !strings.EqualFold(c.CallNotification.Method, "POST"):
		return fmt.Sprintf("its call notification method %q is neither GET nor POST", c.CallNotification.Method)
	}
	if reason := unusableURL(c.CallNotification.URL); reason != "" {
		return "its call notification URL " + reason
	}
	return ""
}

// urlHostUnderscore is the CRD's rule against underscores in the host.
var urlHostUnderscore = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*_`)

// unusableURL mirrors the CRD's rules for callNotification.url, apart from
// credentials in the URL, which the export moves to a Secret reference.
func unusableURL(raw string) string {
	without := withoutUserinfo(raw)
	u, err := url.Parse(without)
	switch {
	case raw == "":
		return "is empty"
	case utf8.RuneCountInString(without) > 2048:
		return "is longer than the 2048 characters spec.callNotification.url allows"
	case strings.IndexFunc(raw, unicode.IsSpace) >= 0:
		return "contains whitespace"
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "":
		return "is not an absolute http or https URL with a host"
	case urlHostUnderscore.MatchString(without):
		return "has an underscore in its host"
	}
	return ""
}

// withoutUserinfo returns raw without "user:password@", as it goes into the
// spec; the operator puts the credentials back from the Secret.
func withoutUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

func clientConfiguration(name string, c voice.Configuration, opts Options) (Object, string) {
	notification := map[string]any{
		"url":    withoutUserinfo(c.CallNotification.URL),
		"method": strings.ToUpper(c.CallNotification.Method),
	}
	secret := ""
	if u, err := url.Parse(c.CallNotification.URL); err == nil && u.User != nil {
		secret = name + "-webhook-basic-auth"
		notification["basicAuthSecretRef"] = ref(secret)
	}
	spec := map[string]any{
		"uniqueName":       c.UniqueName,
		"callNotification": notification,
		"credentialsRef":   ref(opts.CredentialsSecret),
		"deletionPolicy":   string(opts.DeletionPolicy),
		"managementPolicy": string(opts.ManagementPolicy),
	}
	if d := deref(c.Description); d != "" {
		spec["description"] = d
	}
	return Object{Kind: "ClientConfiguration", Name: name, Content: map[string]any{
		"apiVersion": voicev1alpha1.GroupVersion.String(),
		"kind":       "ClientConfiguration",
		"metadata": metadata(name, opts.Namespace, map[string]any{
			voicev1alpha1.AnnotationAdopt: "true",
		}),
		"spec": spec,
	}}, secret
}

// accountDefault names the default by its ClientConfiguration when that was
// exported, else by its remote id.
func accountDefault(configuration, id string, opts Options) Object {
	spec := map[string]any{
		"credentialsRef": ref(opts.CredentialsSecret),
		"deletionPolicy": string(opts.DeletionPolicy),
	}
	if configuration != "" {
		spec["configurationRef"] = ref(configuration)
	} else {
		spec["configurationId"] = id
	}
	const name = "account-default"
	return Object{Kind: "AccountDefault", Name: name, Content: map[string]any{
		"apiVersion": voicev1alpha1.GroupVersion.String(),
		"kind":       "AccountDefault",
		"metadata":   metadata(name, opts.Namespace, nil),
		"spec":       spec,
	}}
}

// ref is a reference by name (credentialsRef, configurationRef, ...).
func ref(name string) map[string]any { return map[string]any{"name": name} }

func metadata(name, namespace string, annotations map[string]any) map[string]any {
	m := ref(name)
	if namespace != "" {
		m["namespace"] = namespace
	}
	if len(annotations) > 0 {
		m["annotations"] = annotations
	}
	return m
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
