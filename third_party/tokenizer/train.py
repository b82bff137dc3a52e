"""Trains the template tokenizer shipped as prsmed/assets/template.model: a LLaMA-style
SentencePiece BPE (byte fallback, dummy prefix, split digits, identity normalisation) on
the PRS-Med template text printed by third_party/tokenizer/corpus.

  go run ./third_party/tokenizer/corpus > /tmp/corpus.txt
  /usr/bin/python3 third_party/tokenizer/train.py /tmp/corpus.txt prsmed/assets/template
"""
import sys

import sentencepiece as spm

corpus, prefix = sys.argv[1], sys.argv[2]
spm.SentencePieceTrainer.train(
    input=corpus, model_prefix=prefix, model_type="bpe", vocab_size=800, byte_fallback=True,
    add_dummy_prefix=True, split_digits=True, normalization_rule_name="identity",
    remove_extra_whitespaces=False, allow_whitespace_only_pieces=True, character_coverage=1.0,
    unk_id=0, bos_id=1, eos_id=2, pad_id=-1, user_defined_symbols=[], num_threads=1,
    input_sentence_size=0, shuffle_input_sentence=False, minloglevel=2)
sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
print("vocab", sp.get_piece_size(), sp.encode("The tumour is in the top left of the image.", out_type=str))
