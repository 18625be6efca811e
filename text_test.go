package oven_test

import (
	"testing"

	"github.com/ovengames/oven"
)

func TestCheckJSONText(t *testing.T) {
	tests := []struct {
		name string
		text string
		ok   bool
	}{
		{"plain", `{"name":"Bo"}`, true},
		{"non-ASCII", `{"name":"쿠키 🍪"}`, true},
		{"escaped pair", `{"name":"\ud83c\udf6a"}`, true},
		{"escaped pair in capitals", `{"name":"\uD83C\uDF6A"}`, true},
		{"escaped replacement character", `{"name":"\ufffd"}`, true},
		{"escaped backslash before u", `{"name":"\\ud800"}`, true},
		{"two escaped backslashes", `{"name":"\\\\"}`, true},
		{"malformed escape (the decoder's to report)", `{"name":"\u12"}`, true},
		{"raw invalid byte", "{\"name\":\"B\xffo\"}", false},
		{"raw surrogate in UTF-8", "{\"name\":\"\xed\xa0\x80\"}", false},
		{"truncated UTF-8", "{\"name\":\"\xe2\x82\"}", false},
		{"lone high surrogate", `{"name":"\ud800"}`, false},
		{"lone high surrogate at the end", `"\ud800`, false},
		{"lone low surrogate", `{"name":"\udc00x"}`, false},
		{"reversed pair", `{"name":"\udc00\ud800"}`, false},
		{"high then a non-surrogate escape", `{"name":"\ud800\u0041"}`, false},
		{"high surrogate after an escaped backslash", `{"name":"\\\ud800"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := oven.CheckJSONText([]byte(tt.text))
			if (err == nil) != tt.ok {
				t.Fatalf("CheckJSONText(%q) = %v, want ok %v", tt.text, err, tt.ok)
			}
			if err != nil && oven.ErrorCode(err) != oven.EInvalid {
				t.Errorf("code %q, want invalid_argument", oven.ErrorCode(err))
			}
		})
	}
}
