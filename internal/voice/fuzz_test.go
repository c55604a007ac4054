package voice

import (
	"context"
	"strings"
	"testing"
	"unicode"
)

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

// configurationSeeds are answers seen or imagined: the reference's
// examples, extra fields, odd dates, and broken shapes.
var configurationSeeds = []string{
	`{"account_sid":"ACxxxxxxxxxxxxxxxxxxxxx","configuration":{"configurationType":"Client","callnotification":{"method":"POST","url":"https://myurl.com"}},"description":"my webhook","unique_name":"my_webhook","id":"voice_clientconfiguration_xxxxxxxxx"}`,
	`{"id":"voice_clientconfiguration_1","description":null,"date_created":"2024-05-06T07:08:09Z","date_updated":"2024-05-06T07:08:09.123Z","url":"https://x","links":{}}`,
	`{"id":"x","date_created":"Mon, 02 Jan 2006 15:04:05 +0000","date_updated":12345}`,
	`{"id":12345,"account_sid":true,"unique_name":["x"],"configuration":"Client"}`,
	`{"id":"x","configuration":null}`,
	`{"id":"x","configuration":{"callnotification":null}}`,
	`{"id":"x"`, `null`, ``, `[]`, `"x"`, `<html>`, `{"id":"x"} {"id":"y"}`,
}

// FuzzDecodeConfiguration: decoding never panics, and a success always has
// an id.
func FuzzDecodeConfiguration(f *testing.F) {
	for _, s := range configurationSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := decodeConfiguration(body)
		if err == nil && (c == nil || c.ID == "") {
			t.Fatalf("success without an id: %+v", c)
		}
		if err != nil {
			// The Malformed message built from it must stay short.
			e := malformed(request{op: "get"}, 200, "text/html; charset=\x00", err, body, []string{fuzzSecret})
			if len(e.Error()) > 2000 {
				t.Fatalf("message of %d bytes", len(e.Error()))
			}
		}
	})
}

// FuzzDecodePage: decoding never panics, and every item has an id.
func FuzzDecodePage(f *testing.F) {
	seeds := []string{
		`{"content":[{"account_sid":"ACx","configuration":{"configurationType":"Client","callnotification":{"method":"POST","url":"https://myurl.com"}},"description":"my webhook","unique_name":"my_webhook","id":"voice_clientconfiguration_xxxxxxxx"}],"meta":{"direct_token":true,"list_key":"content","next_token":"xxxxxxx","page_size":1,"previous_token":"xxxxxxxxxxxxxx"}}`,
		`{"content":[],"meta":{"next_token":null,"previous_token":null}}`,
		`{"content":[]}`,
		`{"content":null,"meta":{}}`,
		`{"meta":{"next_token":"x"}}`,
		`{"content":[{"unique_name":"no id"}]}`,
		`{"content":"none","meta":42}`,
		`{"content":[{"id":"a"}],"meta":{"next_token":5}}`,
	}
	for _, s := range append(seeds, configurationSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodePage(body)
		if err != nil {
			return
		}
		for _, c := range p.Configurations {
			if c.ID == "" {
				t.Fatalf("page item without an id: %+v", p)
			}
		}
	})
}

// FuzzDecodeError: any status and body give an error of the status's
// class, with a short message free of control characters.
func FuzzDecodeError(f *testing.F) {
	seeds := []struct {
		status int
		body   string
	}{
		{404, `{"code":20404,"message":"The requested resource /v2/Configurations/Client/x was not found","more_info":"https://www.twilio.com/docs/errors/20404","status":404}`},
		{400, `{"code":"20001","message":"Invalid"}`},
		{429, `{"code":20429.5,"message":7}`},
		{502, `<html><body>Bad Gateway</body></html>`},
		{503, ``},
		{409, `{"message":"a\nb\u0000c\u2028d"}`},
		{401, `{"code":1e30}`},
		{418, `[1,2]`},
	}
	for _, s := range seeds {
		f.Add(s.status, []byte(s.body))
	}
	f.Add(400, []byte(`{"code":20001,"message":"bad url https://alice:`+fuzzSecret+`@bad_host/x"}`))
	f.Add(400, []byte(`{"code":20001,"message":"password `+fuzzSecret+` refused","more_info":"https://x/?p=`+fuzzSecret+`"}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := &Error{Op: "get", StatusCode: status, Class: classify(status)}
		decodeErrorBody(e, body, []string{fuzzSecret})
		if len(e.Message) > maxMessage+4 || len(e.MoreInfo) > maxMessage+4 {
			t.Fatalf("message of %d bytes", len(e.Message))
		}
		if strings.Contains(e.Error(), fuzzSecret) {
			t.Fatalf("the secret came back in %q", e.Error())
		}
		if strings.IndexFunc(e.Error(), unicode.IsControl) >= 0 {
			t.Fatalf("control character in %q", e.Error())
		}
		if e.Class != classify(status) {
			t.Fatalf("class changed by the body")
		}
	})
}

// fuzzSecret stands for a webhook password the request carried.
const fuzzSecret = "s3cr3t-Pa55"
