package controllers_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
)

// validClientConfiguration returns a ClientConfiguration the apiserver
// accepts; each case below breaks one thing about it.
func validClientConfiguration(ns string) *voicev1alpha1.ClientConfiguration {
	return &voicev1alpha1.ClientConfiguration{
		ObjectMeta: metaIn(ns, "valid"),
		Spec: voicev1alpha1.ClientConfigurationSpec{
			UniqueName:       "my_webhook",
			Description:      "my webhook",
			CallNotification: voicev1alpha1.CallNotification{URL: "https://example.com/notify", Method: voicev1alpha1.HTTPMethodPOST},
			CredentialsRef:   voicev1alpha1.SecretReference{Name: "twilio-credentials"},
		},
	}
}

func validAccountDefault(ns string) *voicev1alpha1.AccountDefault {
	return &voicev1alpha1.AccountDefault{
		ObjectMeta: metaIn(ns, "valid"),
		Spec: voicev1alpha1.AccountDefaultSpec{
			ConfigurationRef: &voicev1alpha1.ConfigurationReference{Name: "web-softphone"},
			CredentialsRef:   voicev1alpha1.SecretReference{Name: "twilio-credentials"},
		},
	}
}

var _ = Describe("API validation through the real kube-apiserver", func() {
	var ns string
	BeforeEach(func(ctx SpecContext) { ns = newNamespace(ctx) })

	DescribeTable("a ClientConfiguration is rejected, naming the field",
		func(ctx SpecContext, mutate func(*voicev1alpha1.ClientConfiguration), field, message string) {
			obj := validClientConfiguration(ns)
			mutate(obj)
			err := k8sClient.Create(ctx, obj)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "expected Invalid, got %v", err)
			Expect(err.Error()).To(ContainSubstring(field))
			Expect(err.Error()).To(ContainSubstring(message))
			Expect(err.Error()).NotTo(ContainSubstring("pass@"), "a refused password is never quoted back")
		},
		Entry("uniqueName with a space",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.UniqueName = "my webhook" },
			"spec.uniqueName", "must not contain whitespace"),
		Entry("uniqueName with a no-break space",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.UniqueName = "my\u00a0webhook" },
			"spec.uniqueName", "must not contain whitespace"),
		Entry("uniqueName with a tab",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.UniqueName = "my\twebhook" },
			"spec.uniqueName", "must not contain whitespace"),
		Entry("empty uniqueName",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.UniqueName = "" },
			"spec.uniqueName", "at least 1 chars long"),
		Entry("uniqueName over 256 characters",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.UniqueName = strings.Repeat("a", 257) },
			"spec.uniqueName", "may not be more than 256"),
		Entry("missing url",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.CallNotification.URL = "" },
			"spec.callNotification.url", "at least 1 chars long"),
		Entry("relative url",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.CallNotification.URL = "/voice/notify" },
			"spec.callNotification.url", "must be an absolute http or https URL"),
		Entry("url without scheme",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.CallNotification.URL = "example.com/notify" },
			"spec.callNotification.url", "must be an absolute http or https URL"),
		Entry("ftp url",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.CallNotification.URL = "ftp://example.com/notify" },
			"spec.callNotification.url", "must be an absolute http or https URL"),
		Entry("url host with an underscore (Twilio error 13806)",
			func(o *voicev1alpha1.ClientConfiguration) {
				o.Spec.CallNotification.URL = "https://my_host.example.com/x"
			},
			"spec.callNotification.url", "must not contain underscores"),
		Entry("url with credentials",
			func(o *voicev1alpha1.ClientConfiguration) {
				o.Spec.CallNotification.URL = "https://user:pass@example.com/x"
			},
			"spec.callNotification.url", "must not contain credentials"),
		Entry("method PATCH",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.CallNotification.Method = "PATCH" },
			"spec.callNotification.method", `supported values: "GET", "POST"`),
		Entry("credentialsRef naming another namespace",
			func(o *voicev1alpha1.ClientConfiguration) {
				o.Spec.CredentialsRef.Name = "other-namespace/twilio-credentials"
			},
			"spec.credentialsRef.name", "should match"),
		Entry("unknown deletionPolicy",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.DeletionPolicy = "Keep" },
			"spec.deletionPolicy", `supported values: "Delete", "Orphan"`),
		Entry("uniqueName with an em space (U+2003)",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.UniqueName = "my\u2003webhook" },
			"spec.uniqueName", "must not contain whitespace"),
		Entry("uniqueName with an ideographic space (U+3000)",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.UniqueName = "my\u3000webhook" },
			"spec.uniqueName", "must not contain whitespace"),
		Entry("uniqueName with a zero-width space (U+200B)",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.UniqueName = "my\u200bwebhook" },
			"spec.uniqueName", "must not contain whitespace"),
		Entry("uniqueName with a line separator (U+2028)",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.UniqueName = "my\u2028webhook" },
			"spec.uniqueName", "must not contain whitespace"),
		Entry("uniqueName with a next-line control (U+0085)",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.UniqueName = "my\u0085webhook" },
			"spec.uniqueName", "must not contain whitespace"),
		Entry("description over 1024 characters",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.Description = strings.Repeat("d", 1025) },
			"spec.description", "may not be more than 1024"),
		Entry("url over 2048 characters",
			func(o *voicev1alpha1.ClientConfiguration) {
				o.Spec.CallNotification.URL = "https://example.com/" + strings.Repeat("a", 2040)
			},
			"spec.callNotification.url", "may not be more than 2048"),
		Entry("javascript: url",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.CallNotification.URL = "javascript:alert(1)" },
			"spec.callNotification.url", "must be an absolute http or https URL"),
		Entry("file: url",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.CallNotification.URL = "file:///etc/passwd" },
			"spec.callNotification.url", "must be an absolute http or https URL"),
		Entry("data: url",
			func(o *voicev1alpha1.ClientConfiguration) {
				o.Spec.CallNotification.URL = "data:text/html,<script>x</script>"
			},
			"spec.callNotification.url", "must be an absolute http or https URL"),
		Entry("url with a space",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.CallNotification.URL = "https://example.com/a b" },
			"spec.callNotification.url", "must not contain whitespace"),
		Entry("url with only a user name",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.CallNotification.URL = "https://user@example.com/x" },
			"spec.callNotification.url", "callNotification.basicAuthSecretRef"),
		Entry("credentialsRef climbing out with a path",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.CredentialsRef.Name = "../kube-system/admin" },
			"spec.credentialsRef.name", "should match"),
		Entry("basicAuthSecretRef naming another namespace",
			func(o *voicev1alpha1.ClientConfiguration) {
				o.Spec.CallNotification.BasicAuthSecretRef = &voicev1alpha1.SecretReference{Name: "other/auth"}
			},
			"spec.callNotification.basicAuthSecretRef.name", "should match"),
		Entry("unknown managementPolicy",
			func(o *voicev1alpha1.ClientConfiguration) { o.Spec.ManagementPolicy = "ReadOnly" },
			"spec.managementPolicy", `supported values: "Manage", "ObserveOnly"`),
	)

	It("rejects unknown fields when the client asks for strict validation, as kubectl does", func(ctx SpecContext) {
		obj := unstructuredClientConfiguration(ns, map[string]any{
			"uniqueName":       "x",
			"callNotification": map[string]any{"url": "https://example.com/", "headers": map[string]any{"X-Evil": "1"}},
			"credentialsRef":   map[string]any{"name": "twilio-credentials"},
		})
		err := k8sClient.Create(ctx, obj, client.FieldValidation("Strict"))
		Expect(err).To(MatchError(ContainSubstring(`unknown field "spec.callNotification.headers"`)))
	})

	It("never lets credentialsRef reach another namespace: an added namespace field is pruned", func(ctx SpecContext) {
		obj := unstructuredClientConfiguration(ns, map[string]any{
			"uniqueName":       "x",
			"callNotification": map[string]any{"url": "https://example.com/"},
			"credentialsRef":   map[string]any{"name": "twilio-credentials", "namespace": "kube-system"},
		})
		Expect(k8sClient.Create(ctx, obj, client.DryRunAll)).To(Succeed())
		ref, _, _ := unstructured.NestedMap(obj.Object, "spec", "credentialsRef")
		Expect(ref).To(Equal(map[string]any{"name": "twilio-credentials"}))
	})

	It("fills in the defaults of a minimal ClientConfiguration", func(ctx SpecContext) {
		obj := validClientConfiguration(ns)
		obj.Spec.CallNotification.Method = ""
		Expect(k8sClient.Create(ctx, obj)).To(Succeed())
		Expect(obj.Spec.CallNotification.Method).To(Equal(voicev1alpha1.HTTPMethodPOST))
		Expect(obj.Spec.DeletionPolicy).To(Equal(voicev1alpha1.DeletionPolicyDelete))
		Expect(obj.Spec.ManagementPolicy).To(Equal(voicev1alpha1.ManagementPolicyManage))
	})

	DescribeTable("an AccountDefault is rejected, naming the field",
		func(ctx SpecContext, mutate func(*voicev1alpha1.AccountDefault), field, message string) {
			obj := validAccountDefault(ns)
			mutate(obj)
			err := k8sClient.Create(ctx, obj)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "expected Invalid, got %v", err)
			Expect(err.Error()).To(ContainSubstring(field))
			Expect(err.Error()).To(ContainSubstring(message))
			Expect(err.Error()).NotTo(ContainSubstring("pass@"), "a refused password is never quoted back")
		},
		Entry("both configurationRef and configurationId",
			func(o *voicev1alpha1.AccountDefault) {
				o.Spec.ConfigurationID = "voice_clientconfiguration_0123456789abcdef0123456789abcdef"
			},
			"spec", "set exactly one of configurationRef or configurationId"),
		Entry("neither configurationRef nor configurationId",
			func(o *voicev1alpha1.AccountDefault) { o.Spec.ConfigurationRef = nil },
			"spec", "set exactly one of configurationRef or configurationId"),
		Entry("a configurationId that is not a Client Configuration id",
			func(o *voicev1alpha1.AccountDefault) {
				o.Spec.ConfigurationRef = nil
				o.Spec.ConfigurationID = "CA123; DROP TABLE"
			},
			"spec.configurationId", "should match"),
	)

	It("accepts every sample in config/samples", func(ctx SpecContext) {
		files, err := filepath.Glob(filepath.Join("..", "config", "samples", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		files = append(files, filepath.Join("..", "config", "demo", "twilio-credentials.yaml"))
		samples := 0
		for _, file := range files {
			if filepath.Base(file) == "kustomization.yaml" {
				continue
			}
			for _, obj := range readObjects(file) {
				obj.SetNamespace(ns)
				// A server-side dry run: validated and defaulted by the
				// apiserver, never stored, so no controller acts on it.
				Expect(k8sClient.Create(ctx, obj, client.DryRunAll)).To(Succeed(), "sample %s (%s %s)", file, obj.GetKind(), obj.GetName())
				samples++
			}
		}
		Expect(samples).To(BeNumerically(">=", 4), "config/samples should hold two ClientConfigurations and an AccountDefault, config/demo the Secret")
	})
})

// readObjects decodes every YAML document in a file.
func readObjects(file string) []*unstructured.Unstructured {
	data, err := os.ReadFile(file)
	Expect(err).NotTo(HaveOccurred())
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			Expect(err.Error()).To(Equal("EOF"))
			return objs
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

// unstructuredClientConfiguration builds a ClientConfiguration from a raw
// spec, to send what the typed API cannot express.
func unstructuredClientConfiguration(ns string, spec map[string]any) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	obj.SetGroupVersionKind(voicev1alpha1.GroupVersion.WithKind("ClientConfiguration"))
	obj.SetNamespace(ns)
	obj.SetName("hostile")
	return obj
}
