// The CLIP tokenizer's data, compiled into the binary (see Tools/gen_tokenizer_data.py).
#ifndef CLIP_TOKENIZER_DATA_H
#define CLIP_TOKENIZER_DATA_H

/// The number of BPE merges.
unsigned long clip_bpe_merge_count(void);
/// (left id, right id, merged id) per merge, in rank order: 3 × clip_bpe_merge_count() values.
const unsigned short *clip_bpe_merges(void);

/// The byte length of the text tables' JSON.
unsigned long clip_text_tables_json_length(void);
/// The text tables (HTML entities, ftfy and Unicode tables) as JSON bytes.
const unsigned char *clip_text_tables_json(void);

#endif
