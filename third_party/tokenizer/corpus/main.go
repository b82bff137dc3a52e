// Command corpus prints the text the template tokenizer is trained on: every question and
// answer template of package zones filled with every zone phrase, proximity clause and
// lesion word, plus the prompt template's fixed words. third_party/tokenizer/train.py
// feeds it to SentencePiece.
//
//	go run ./third_party/tokenizer/corpus > /tmp/corpus.txt
package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/prsmed/prsmed-go/zones"
)

func main() {
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	lesions := []string{"tumour", "tumor", "mass", "nodule", "opacity", "polyp", "lesion"}
	for _, l := range lesions {
		for _, q := range zones.QuestionTemplates() {
			fmt.Fprintln(w, zones.FillQuestion(q, l))
		}
		for _, z := range zones.All() {
			for _, zp := range zones.ZonePhrases(z) {
				for _, a := range zones.AnswerTemplates() {
					for _, prox := range append(append([]string{""}, zones.NearClauses()...), zones.FarClauses()...) {
						fmt.Fprintln(w, zones.FillAnswer(a, l, zp, prox))
					}
				}
			}
		}
	}
	fmt.Fprintln(w, "### User: ### Assistant: <image>")
}
