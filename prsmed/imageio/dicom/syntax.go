package dicom

import "fmt"

// codec is how a transfer syntax stores its pixel data.
type codec int

const (
	codecNative codec = iota
	codecRLE
	codecJPEGBaseline
	codecJPEGLossless
	codecUnsupported
)

// syntax describes one transfer syntax.
type syntax struct {
	uid      string
	name     string
	implicit bool
	big      bool
	deflated bool
	codec    codec
}

// syntaxes lists the transfer syntaxes this package knows by name; the ones with
// codecUnsupported are named in errors.
var syntaxes = []syntax{
	{uid: "1.2.840.10008.1.2", name: "Implicit VR Little Endian", implicit: true},
	{uid: "1.2.840.10008.1.2.1", name: "Explicit VR Little Endian"},
	{uid: "1.2.840.10008.1.2.1.99", name: "Deflated Explicit VR Little Endian", deflated: true},
	{uid: "1.2.840.10008.1.2.2", name: "Explicit VR Big Endian", big: true},
	{uid: "1.2.840.10008.1.2.5", name: "RLE Lossless", codec: codecRLE},
	{uid: "1.2.840.10008.1.2.4.50", name: "JPEG Baseline (Process 1)", codec: codecJPEGBaseline},
	{uid: "1.2.840.10008.1.2.4.51", name: "JPEG Extended (Process 2 & 4)", codec: codecJPEGBaseline},
	{uid: "1.2.840.10008.1.2.4.57", name: "JPEG Lossless, Non-Hierarchical (Process 14)", codec: codecJPEGLossless},
	{uid: "1.2.840.10008.1.2.4.70", name: "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])", codec: codecJPEGLossless},
	{uid: "1.2.840.10008.1.2.4.80", name: "JPEG-LS Lossless Image Compression", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.81", name: "JPEG-LS Lossy (Near-Lossless) Image Compression", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.90", name: "JPEG 2000 Image Compression (Lossless Only)", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.91", name: "JPEG 2000 Image Compression", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.92", name: "JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.93", name: "JPEG 2000 Part 2 Multi-component Image Compression", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.201", name: "High-Throughput JPEG 2000 Image Compression (Lossless Only)", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.202", name: "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.203", name: "High-Throughput JPEG 2000 Image Compression", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.100", name: "MPEG2 Main Profile / Main Level", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.101", name: "MPEG2 Main Profile / High Level", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.102", name: "MPEG-4 AVC/H.264 High Profile / Level 4.1", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.103", name: "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.104", name: "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.105", name: "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.106", name: "MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.107", name: "HEVC/H.265 Main Profile / Level 5.1", codec: codecUnsupported},
	{uid: "1.2.840.10008.1.2.4.108", name: "HEVC/H.265 Main 10 Profile / Level 5.1", codec: codecUnsupported},
}

// lookupSyntax finds a transfer syntax by UID; unknown UIDs come back as unsupported,
// encapsulated syntaxes (as DICOM requires of every syntax not listed as native).
func lookupSyntax(uid string) syntax {
	for _, s := range syntaxes {
		if s.uid == uid {
			return s
		}
	}
	return syntax{uid: uid, name: "unknown transfer syntax", codec: codecUnsupported}
}

func (s syntax) String() string { return fmt.Sprintf("%s (%s)", s.name, s.uid) }

// encapsulated reports whether pixel data is stored as fragments.
func (s syntax) encapsulated() bool { return s.codec != codecNative }
