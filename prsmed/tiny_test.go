package prsmed_test

import (
	"reflect"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/prsmed/tinyvit"
)

// TestTinyComponents: prsmed.Tiny is made of the components' own small configs, so a user
// of one component takes that one (tinyvit.Tiny(), mistral.Tiny(vocab)) without prsmed.
func TestTinyComponents(t *testing.T) {
	c := prsmed.Tiny(100)
	if !reflect.DeepEqual(c.TinyViT, tinyvit.Tiny()) {
		t.Errorf("TinyViT %+v, want tinyvit.Tiny()", c.TinyViT)
	}
	if !reflect.DeepEqual(c.Mistral, mistral.Tiny(100)) {
		t.Errorf("Mistral %+v, want mistral.Tiny(100)", c.Mistral)
	}
	if err := mistral.Tiny(100).Validate(); err != nil {
		t.Error(err)
	}
}
