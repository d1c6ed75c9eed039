//! The dump's hot path without I/O: cutting a binary COPY stream into rows,
//! segmenting and checksumming them, and zstd compression, on rows shaped
//! like the benchmark database's customers.
//!
//!     cargo bench --bench pipeline

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use replibyte::copy::binary;
use replibyte::copy::rows::RowSplitter;
use replibyte::copy::CopyFormat;
use replibyte::segment::{Checksum, Event, SegmentOptions, Segmenter};

/// About 64 MiB of binary COPY: header, customers-like tuples, trailer.
fn copy_stream() -> Vec<u8> {
    let mut out = binary::HEADER.to_vec();
    let mut i: u64 = 0;
    while out.len() < 64 * 1024 * 1024 {
        i += 1;
        let fields: [Vec<u8>; 8] = [
            i.to_be_bytes().to_vec(),
            ["James", "Mary", "Robert", "Patricia"][i as usize % 4].as_bytes().to_vec(),
            ["Smith", "Johnson", "Williams"][i as usize % 3].as_bytes().to_vec(),
            format!("customer.{i}@example.com").into_bytes(),
            format!("+1-555-{:07}", i % 10_000_000).into_bytes(),
            ((i % 20_000) as i32).to_be_bytes().to_vec(),
            format!(
                "\x01{{\"city\": \"Springfield\", \"zip\": \"{:05}\", \"street\": \"{} Main Street\"}}",
                i % 99_999,
                i % 9_999
            )
            .into_bytes(),
            (i as i64 * 17_000_000).to_be_bytes().to_vec(),
        ];
        binary::put_field_count(&mut out, fields.len());
        for field in &fields {
            binary::put_field(&mut out, Some(field));
        }
    }
    out.extend_from_slice(binary::TRAILER);
    out
}

/// The stream as PostgreSQL sends it: the header with the first row, then
/// one message per row.
fn messages(stream: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut pos = 0;
    let first = binary::header_len(stream).unwrap().unwrap();
    while pos < stream.len() {
        let start = if pos == 0 { first } else { pos };
        let len = match binary::tuple_len(&stream[start..], 8).unwrap() {
            binary::Next::Tuple(len) => len,
            _ => stream.len() - start,
        };
        out.push(&stream[pos..start + len]);
        pos = start + len;
    }
    out
}

/// A row error of the benchmark's pipeline.
#[derive(Debug)]
enum Failure {
    Format(#[allow(dead_code)] binary::FormatError),
    Io(#[allow(dead_code)] std::io::Error),
}

impl From<binary::FormatError> for Failure {
    fn from(e: binary::FormatError) -> Self {
        Failure::Format(e)
    }
}

fn bench(c: &mut Criterion) {
    let stream = copy_stream();
    let chunks = messages(&stream);
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Bytes(stream.len() as u64)).sample_size(10);

    group.bench_function("split rows", |b| {
        b.iter(|| {
            let mut splitter = RowSplitter::new(CopyFormat::Binary, 8);
            let mut rows = 0u64;
            for chunk in &chunks {
                splitter
                    .feed::<binary::FormatError>(chunk, |_| {
                        rows += 1;
                        Ok(())
                    })
                    .unwrap();
            }
            black_box(rows)
        })
    });

    group.bench_function("checksum", |b| b.iter(|| black_box(Checksum::of(&stream))));

    for level in [1, 3] {
        group.bench_function(format!("split + segment + zstd {level}"), |b| {
            b.iter(|| {
                let mut splitter = RowSplitter::new(CopyFormat::Binary, 8);
                let mut segmenter =
                    Segmenter::new(CopyFormat::Binary, SegmentOptions { max_raw_bytes: 64 << 20, zstd_level: level });
                let mut stored = 0usize;
                for chunk in &chunks {
                    splitter.feed::<Failure>(chunk, |row| segmenter.push_row(row).map_err(Failure::Io)).unwrap();
                    for event in segmenter.drain() {
                        if let Event::Data(bytes) = event {
                            stored += bytes.len();
                        }
                    }
                }
                segmenter.finish().unwrap();
                stored += segmenter.drain().map(|e| if let Event::Data(b) = e { b.len() } else { 0 }).sum::<usize>();
                black_box(stored)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
