package dicom

// Tags this package reads.
const (
	tagTransferSyntax      = 0x00020010
	tagSOPInstanceUID      = 0x00080018
	tagSamplesPerPixel     = 0x00280002
	tagPhotometric         = 0x00280004
	tagPlanarConfig        = 0x00280006
	tagNumberOfFrames      = 0x00280008
	tagRows                = 0x00280010
	tagColumns             = 0x00280011
	tagBitsAllocated       = 0x00280100
	tagBitsStored          = 0x00280101
	tagHighBit             = 0x00280102
	tagPixelRepresentation = 0x00280103
	tagWindowCenter        = 0x00281050
	tagWindowWidth         = 0x00281051
	tagRescaleIntercept    = 0x00281052
	tagRescaleSlope        = 0x00281053
	tagVOILUTFunction      = 0x00281056
	tagPixelData           = 0x7FE00010

	tagItem          = 0xFFFEE000
	tagItemDelim     = 0xFFFEE00D
	tagSequenceDelim = 0xFFFEE0DD
)

// implicitVR gives the VR of tags whose value this package interprets, for implicit VR
// files (which do not store VRs). Other tags are kept as raw bytes ("UN").
var implicitVR = map[uint32]string{
	0x00020000: "UL", 0x00020001: "OB", 0x00020002: "UI", 0x00020003: "UI", 0x00020010: "UI",
	0x00020012: "UI", 0x00020013: "SH",
	0x00080005: "CS", 0x00080008: "CS", 0x00080016: "UI", 0x00080018: "UI", 0x00080020: "DA",
	0x00080060: "CS", 0x00080070: "LO", 0x0008103E: "LO",
	0x00100010: "PN", 0x00100020: "LO",
	0x00180050: "DS", 0x00200013: "IS", 0x0020000D: "UI", 0x0020000E: "UI",
	0x00280002: "US", 0x00280004: "CS", 0x00280006: "US", 0x00280008: "IS", 0x00280010: "US",
	0x00280011: "US", 0x00280030: "DS", 0x00280100: "US", 0x00280101: "US", 0x00280102: "US",
	0x00280103: "US", 0x00281050: "DS", 0x00281051: "DS", 0x00281052: "DS", 0x00281053: "DS",
	0x00281054: "LO", 0x00281056: "CS",
	0x7FE00010: "OW",
}

// longVR lists explicit VRs stored with a 2-byte reserved field and a 4-byte length.
var longVR = map[string]bool{
	"OB": true, "OD": true, "OF": true, "OL": true, "OV": true, "OW": true, "SQ": true,
	"SV": true, "UC": true, "UN": true, "UR": true, "UT": true, "UV": true,
}

// shortVR lists the other valid explicit VRs (2-byte length).
var shortVR = map[string]bool{
	"AE": true, "AS": true, "AT": true, "CS": true, "DA": true, "DS": true, "DT": true,
	"FL": true, "FD": true, "IS": true, "LO": true, "LT": true, "PN": true, "SH": true,
	"SL": true, "SS": true, "ST": true, "TM": true, "UI": true, "UL": true, "US": true,
}
