package tokenizer_test

import (
	"fmt"
	"log"

	"github.com/prsmed/prsmed-go/prsmed/tokenizer"
)

func ExampleLoad() {
	tok, err := tokenizer.Load("../../testdata/tokenizer/test.model")
	if err != nil {
		log.Fatal(err)
	}
	info := tok.Info()
	fmt.Println(tok.VocabSize(), tok.BOS(), tok.EOS(), tok.UNK())
	fmt.Println(info.ModelType, info.NormalizerName, info.AddDummyPrefix, info.ByteFallback)
	// Output:
	// 1500 1 2 0
	// BPE identity true true
}

func ExampleTokenizer_Encode() {
	tok, err := tokenizer.Load("../../testdata/tokenizer/test.model")
	if err != nil {
		log.Fatal(err)
	}
	text := "Where is the tumour in this brain MRI?"
	fmt.Println(tok.Encode(text))
	fmt.Printf("%q\n", tok.EncodePieces(text))
	// Digits are split, unknown characters fall back to UTF-8 bytes.
	fmt.Printf("%q\n", tok.EncodePieces("2024 龍"))
	// Output:
	// [446 276 261 486 271 329 554 372 1359]
	// ["▁Where" "▁is" "▁the" "▁tumour" "▁in" "▁this" "▁brain" "▁MRI" "?"]
	// ["▁" "2" "0" "2" "4" "▁" "<0xE9>" "<0xBE>" "<0x8D>"]
}

func ExampleTokenizer_EncodeWith() {
	tok, err := tokenizer.Load("../../testdata/tokenizer/test.model")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.EncodeWithBOS("top left"))
	fmt.Println(tok.EncodeWith("top left", tokenizer.EncodeOptions{AddBOS: true, AddEOS: true}))
	// Output:
	// [1 334 317]
	// [1 334 317 2]
}

func ExampleTokenizer_Decode() {
	tok, err := tokenizer.Load("../../testdata/tokenizer/test.model")
	if err != nil {
		log.Fatal(err)
	}
	ids := tok.EncodeWithBOS("  The lesion is near the center. 🧠")
	// BOS vanishes, the dummy-prefix space is dropped, bytes join into UTF-8.
	fmt.Printf("%q\n", tok.Decode(ids))
	// Output:
	// "  The lesion is near the center. 🧠"
}
