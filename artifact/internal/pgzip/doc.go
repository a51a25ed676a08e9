// Package pgzip writes a single-member gzip stream compressed on several
// goroutines, with output that depends only on the input, the level and the
// block size — never on the number of workers or on GOMAXPROCS.
//
// The uncompressed input is cut into blocks of a fixed size. Each block is
// compressed on its own as raw DEFLATE, primed with the last 32 KiB of the
// previous block's input as a preset dictionary, and ends with a sync flush
// (the last block with a final block instead). Because a block's output is a
// pure function of (its input, the previous block's tail, level), workers can
// compress blocks in any order; a single writer emits them in sequence. The
// CRC-32 and length for the gzip trailer are computed over the input as it is
// written. The gzip header is fixed: no name, no modification time, OS
// "unknown".
package pgzip
