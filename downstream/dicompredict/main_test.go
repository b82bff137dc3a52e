package main

import (
	"context"
	"slices"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
)

const dicom = "../../testdata/medical/ct_implicit.dcm"

// The program's mask and answer for a DICOM file are those of the library's own Predict
// with the model the checkpoint was saved from, on the same image.
func TestPredictMatchesLibrary(t *testing.T) {
	m := prsmedtest.TinyModel(t, 5)
	dir := t.TempDir()
	if err := prsmed.SaveBundle(m, dir, assets.TemplateModel(), prsmed.BaseWeights{}); err != nil {
		t.Fatal(err)
	}
	const q = "Where is the abnormality in this image?"
	got, err := predict(context.Background(), dir, dicom, q)
	if err != nil {
		t.Fatal(err)
	}
	img, err := imageio.Load(dicom)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Predict(context.Background(), img, q)
	if err != nil {
		t.Fatal(err)
	}
	if got.Mask.Bounds() != img.Bounds() {
		t.Errorf("mask %v, image %v", got.Mask.Bounds(), img.Bounds())
	}
	if !slices.Equal(got.Prob, want.Prob) || !slices.Equal(got.Mask.Pix, want.Mask.Pix) {
		t.Error("the mask differs from the library's Predict")
	}
	if got.Answer != want.Answer || got.Answer == "" {
		t.Errorf("answer %q, library %q", got.Answer, want.Answer)
	}
	if _, err := predict(context.Background(), t.TempDir(), dicom, q); err == nil {
		t.Error("an empty folder opened as a checkpoint")
	}
}
