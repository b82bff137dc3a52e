package zones

// The vocabulary Parse works with. Every word is lower case and made of
// letters only, as tokenize produces them. The lists are switch statements,
// not package variables, so they cannot be changed at run time.

// vdir is a vertical direction named by a word.
type vdir int8

const (
	noV vdir = iota
	up
	down
)

// hdir is a horizontal direction named by a word.
type hdir int8

const (
	noH hdir = iota
	left
	right
)

// quadrant returns the zone of a vertical and a horizontal direction.
func quadrant(v vdir, h hdir) Zone {
	switch {
	case v == up && h == left:
		return TopLeft
	case v == up && h == right:
		return TopRight
	case v == down && h == left:
		return BottomLeft
	case v == down && h == right:
		return BottomRight
	}
	return 0
}

// vertOf returns the vertical direction a word names.
func vertOf(w string) vdir {
	switch w {
	case "top", "upper", "uppermost", "topmost":
		return up
	case "bottom", "lower", "lowermost", "bottommost":
		return down
	}
	return noV
}

// horizOf returns the horizontal direction a word names.
func horizOf(w string) hdir {
	switch w {
	case "left", "leftmost":
		return left
	case "right", "rightmost":
		return right
	}
	return noH
}

// splitCompound splits a run-together zone word such as "topleft" or
// "lowerright" into its two halves.
func splitCompound(w string) (string, string, bool) {
	for _, v := range [...]string{"top", "upper", "bottom", "lower"} {
		if len(w) <= len(v) || w[:len(v)] != v {
			continue
		}
		if rest := w[len(v):]; rest == "left" || rest == "right" {
			return v, rest, true
		}
	}
	return "", "", false
}

// isCentre reports whether a word names the centre of something.
func isCentre(w string) bool {
	switch w {
	case "center", "centre", "central", "centrally", "middle",
		"centered", "centred", "centermost", "centremost":
		return true
	}
	return false
}

// isProximity reports whether a word, right before a centre word, makes it
// a reference point ("near the center", "away from the centre",
// "off-center", "towards the middle") rather than a zone.
func isProximity(w string) bool {
	switch w {
	case "near", "nearer", "nearest", "nearby", "close", "closer", "closest",
		"closely", "far", "farther", "further", "farthest", "furthest",
		"away", "from", "toward", "towards", "adjacent", "approaching",
		"around", "about", "off", "proximity", "proximal", "distant",
		"beside", "besides", "above", "below", "beneath", "under",
		"next", "relative", "outside", "apart", "by", "facing", "faces",
		"approaches", "approach", "bordering", "borders", "abutting",
		"abuts", "centerward", "centreward", "inward", "inwards":
		return true
	}
	return false
}

// leadsTo reports whether a word before "to" or "into" turns the phrase
// into a reference to the centre: "close to", "next to", "extending into".
func leadsTo(w string) bool {
	switch w {
	case "close", "closer", "closest", "near", "nearer", "nearest", "next",
		"adjacent", "proximal", "relative", "lateral", "medial",
		"left", "right", "up",
		"extend", "extends", "extending", "extended",
		"reach", "reaches", "reaching", "reached",
		"spread", "spreads", "spreading",
		"stretch", "stretches", "stretching",
		"point", "points", "pointing", "moving", "moves", "shifted",
		"extension", "encroach", "encroaches", "encroaching", "protrudes",
		"protruding", "projecting", "projects", "heading", "drifting",
		"displaced", "migrating", "tending", "inward", "inwards":
		return true
	}
	return false
}

// isFiller reports whether a word may stand between a proximity word and a
// centre word without changing the meaning ("near the very centre of the
// image", "close to the image's center").
func isFiller(w string) bool {
	switch w {
	case "the", "a", "an", "its", "this", "that", "their", "s",
		"image", "images", "picture", "scan", "slice", "frame", "view",
		"photo", "mri", "ct", "ultrasound", "xray", "x", "ray",
		"very", "exact", "exactly", "true", "approximate", "approximately",
		"roughly", "more", "somewhat", "slightly", "quite", "fairly",
		"rather", "just", "geometric", "visual":
		return true
	}
	return false
}

// isRegion reports whether a word names a part of the image, as in the
// reversed phrase "left upper quadrant".
func isRegion(w string) bool {
	switch w {
	case "quadrant", "quadrants", "corner", "corners", "region", "regions",
		"part", "parts", "portion", "portions", "area", "areas", "side",
		"sides", "section", "sections", "zone", "zones", "half", "halves",
		"aspect", "field", "quarter", "segment", "sector":
		return true
	}
	return false
}

// isLesion reports whether a word names a lesion, as in "the centre of the
// tumour" (the lesion's own centre, not a position in the image).
func isLesion(w string) bool {
	switch w {
	case "tumour", "tumours", "tumor", "tumors", "lesion", "lesions",
		"mass", "masses", "polyp", "polyps", "nodule", "nodules",
		"growth", "cyst", "cysts", "abnormality", "opacity", "mole",
		"melanoma", "lump", "carcinoma", "cancer", "neoplasm", "blob",
		"object", "finding", "segmentation", "mask":
		return true
	}
	return false
}

// isAnatomy reports whether a word names an anatomical structure that
// "left", "right", "upper", "lower" or "middle" commonly qualify as part of
// its name ("left lung", "right breast", "upper lobe", "middle ear"): in
// such phrases the direction is anatomy, not an image position.
func isAnatomy(w string) bool {
	switch w {
	case "lung", "lungs", "breast", "breasts", "kidney", "kidneys",
		"lobe", "lobes", "hemisphere", "hemispheres", "ventricle",
		"ventricles", "atrium", "atria", "eye", "eyes", "ear", "ears",
		"arm", "arms", "leg", "legs", "foot", "feet", "ovary", "ovaries",
		"adrenal", "hip", "shoulder", "knee", "thigh", "liver", "colon",
		"hemithorax", "hemidiaphragm", "diaphragm", "bronchus", "bronchi",
		"artery", "arteries", "vein", "veins", "cerebral", "cerebellar",
		"temporal", "frontal", "parietal", "occipital", "hilum", "hilar",
		"axilla", "axillary", "nipple", "chest", "heart", "sulcus", "gyrus",
		"nostril", "orbit", "maxillary", "sinus", "iliac", "fossa",
		"ureter", "testis", "testicle", "thalamus", "basal", "ganglia",
		"cerebrum", "cerebellum", "limb", "limbs", "extremity",
		"extremities", "pole", "lip", "jaw", "eyelid", "cheek", "turbinate",
		"meningeal", "finger", "toe", "wrist", "ankle", "elbow",
		"flank", "groin", "pleura", "pleural", "mediastinum", "mainstem",
		"lingula", "segmental":
		return true
	}
	return false
}

// isIntensifierFollower reports whether a word after "right" shows that
// "right" is an intensifier ("right next to", "right in the middle"), not a
// direction.
func isIntensifierFollower(w string) bool {
	switch w {
	case "next", "at", "in", "on", "by", "near", "beside", "above", "below",
		"under", "there", "here", "away", "now", "inside", "within",
		"through", "across", "over":
		return true
	}
	return false
}

// isHeading reports whether a word before "of" makes the centre after it a
// direction rather than a zone ("in the direction of the centre").
func isHeading(w string) bool {
	switch w {
	case "direction", "directions", "side", "vicinity", "proximity", "edge",
		"periphery", "outskirts", "border", "rim", "margin", "outside":
		return true
	}
	return false
}

// isNegation reports whether a word denies what follows it in its clause.
func isNegation(w string) bool {
	switch w {
	case "not", "no", "never", "neither", "nor", "without", "cannot",
		"nowhere", "none", "isnt", "arent", "doesnt", "dont", "wasnt":
		return true
	}
	return false
}

// endsNegation reports whether a word starts a new assertion, ending the
// reach of a negation before it ("not in the center but in the top left").
func endsNegation(w string) bool {
	switch w {
	case "but", "and", "it", "which", "rather", "instead", "however",
		"yet", "though", "although", "whereas", "while", "so", "this":
		return true
	}
	return false
}
