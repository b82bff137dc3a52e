package data

import (
	"math/rand/v2"
	"strings"

	"github.com/prsmed/prsmed-go/zones"
)

// positionTemplates are the sentences of the position column, in the style
// of the official CSVs: the zone's String form after the word "position",
// the lesion always called "tumor", and a proximity phrase at the end.
var positionTemplates = [...]string{
	"The tumor is in position {zone} and {prox}.",
	"The tumor is visible in position {zone} and {prox}.",
	"The tumor is located in position {zone} and {prox}.",
	"The tumor is found in position {zone} and {prox}.",
	"The tumor is detected in position {zone} and {prox}.",
	"The tumor lies in position {zone} and {prox}.",
	"Position {zone} contains the tumor and which is {prox}.",
	"Position {zone} shows the tumor and which is {prox}.",
	"In position {zone} and the tumor is situated {prox}.",
	"Located in position {zone} and the tumor is {prox}.",
}

// Proximity phrases of the position column.
var (
	positionNear = [...]string{"near the center", "close to the center", "near the center of the image"}
	positionFar  = [...]string{"far from the center", "away from the center", "not near the center"}
)

// PositionSentence draws a sentence for the position column that places the
// lesion in zone z, near the image centre or not, using only r for
// randomness: e.g. "The tumor is visible in position top left and close to
// the center." The zone is spelled as z.String() ("top left", …, "center")
// and a central lesion is always near. zones.Parse maps every sentence back
// to z. An invalid zone gives "".
func PositionSentence(r *rand.Rand, z zones.Zone, near bool) string {
	if !z.Valid() {
		return ""
	}
	t := positionTemplates[r.IntN(len(positionTemplates))]
	prox := positionFar[r.IntN(len(positionFar))]
	if near || z == zones.Center {
		prox = positionNear[r.IntN(len(positionNear))]
	}
	return strings.NewReplacer(zones.ZoneSlot, z.String(), zones.ProxSlot, prox).Replace(t)
}

// LesionWord returns the word the synthetic questions and answers use for
// the lesion of a PosMed modality: "tumour" (brain_tumors_ct_scan), "mass"
// (breast_tumors_ct_scan), "nodule" (lung_CT), "opacity" (lung_Xray),
// "polyp" (polyp_endoscopy), "lesion" (skin_rgbimage and any other name).
func LesionWord(modality string) string {
	switch modality {
	case "brain_tumors_ct_scan":
		return "tumour"
	case "breast_tumors_ct_scan":
		return "mass"
	case "lung_CT":
		return "nodule"
	case "lung_Xray":
		return "opacity"
	case "polyp_endoscopy":
		return "polyp"
	}
	return "lesion"
}
