// The "stats" object of query responses, in the layout Loki 3 serializes (summary, querier, ingester,
// cache, index). The double holds everything in memory, so what it scanned is reported the way Loki
// reports data read from ingesters' head chunks, and the summary is derived the way Loki derives it.

import { chunkOf, type Entry, type Stream } from './store.ts';

const CACHES = [
  'chunk',
  'index',
  'result',
  'statsResult',
  'volumeResult',
  'seriesResult',
  'labelResult',
  'instantMetricResult',
  'logResult',
  'taskResult',
] as const;

function emptyStore() {
  return {
    totalChunksRef: 0,
    totalChunksDownloaded: 0,
    chunksDownloadTime: 0,
    queryReferencedStructuredMetadata: false,
    queryUsedV2Engine: false,
    chunk: {
      headChunkBytes: 0,
      headChunkLines: 0,
      decompressedBytes: 0,
      decompressedLines: 0,
      compressedBytes: 0,
      totalDuplicates: 0,
      postFilterLines: 0,
      headChunkStructuredMetadataBytes: 0,
      decompressedStructuredMetadataBytes: 0,
    },
    chunkRefsFetchTime: 0,
    congestionControlLatency: 0,
    pipelineWrapperFilteredLines: 0,
    dataobj: {
      prePredicateDecompressedRows: 0,
      prePredicateDecompressedBytes: 0,
      prePredicateDecompressedStructuredMetadataBytes: 0,
      postPredicateRows: 0,
      postPredicateDecompressedBytes: 0,
      postPredicateStructuredMetadataBytes: 0,
      postFilterRows: 0,
      pagesScanned: 0,
      pagesDownloaded: 0,
      pagesDownloadedBytes: 0,
      pageBatches: 0,
      totalRowsAvailable: 0,
      totalPageDownloadTime: 0,
      wireBytesTransferred: 0,
    },
  };
}

const emptyCache = () => ({
  entriesFound: 0,
  entriesRequested: 0,
  entriesStored: 0,
  bytesReceived: 0,
  bytesSent: 0,
  requests: 0,
  downloadTime: 0,
  queryLengthServed: 0,
});

/** What one query read: every entry looked at, and how many of them got through the pipeline. */
export class Scan {
  lines = 0;
  bytes = 0;
  metadataBytes = 0;
  postFilterLines = 0;
  readonly #streams = new Set<string>();
  readonly #chunks = new Set<string>();
  readonly #started = performance.now();

  read(stream: Stream, entry: Entry): void {
    this.lines++;
    this.bytes += Buffer.byteLength(entry.line);
    for (const [name, value] of Object.entries(entry.metadata)) {
      this.metadataBytes += Buffer.byteLength(name) + Buffer.byteLength(value);
    }
    this.#streams.add(stream.key);
    this.#chunks.add(chunkOf(stream, entry));
  }

  /** The statistics of the response, `returned` being Loki's count of entries (or samples) returned. */
  stats(returned: number) {
    const execTime = (performance.now() - this.#started) / 1000;
    const chunks = this.#chunks.size;
    const ingesterStore = emptyStore();
    Object.assign(ingesterStore.chunk, {
      headChunkBytes: this.bytes,
      headChunkLines: this.lines,
      headChunkStructuredMetadataBytes: this.metadataBytes,
      postFilterLines: this.postFilterLines,
    });
    return {
      summary: {
        bytesProcessedPerSecond: execTime > 0 ? Math.trunc(this.bytes / execTime) : 0,
        linesProcessedPerSecond: execTime > 0 ? Math.trunc(this.lines / execTime) : 0,
        totalBytesProcessed: this.bytes,
        totalLinesProcessed: this.lines,
        execTime,
        queueTime: 0,
        subqueries: 0,
        totalEntriesReturned: returned,
        splits: 0,
        shards: 0,
        totalPostFilterLines: this.postFilterLines,
        totalStructuredMetadataBytesProcessed: this.metadataBytes,
      },
      querier: { store: emptyStore(), querierExecTime: execTime },
      ingester: {
        totalReached: 1,
        totalChunksMatched: chunks,
        totalBatches: this.lines > 0 ? 1 : 0,
        totalLinesSent: this.postFilterLines,
        store: ingesterStore,
      },
      cache: Object.fromEntries(CACHES.map(name => [name, emptyCache()])),
      index: {
        totalChunks: chunks,
        postFilterChunks: chunks,
        shardsDuration: 0,
        usedBloomFilters: false,
        totalStreams: this.#streams.size,
        chunkRefsLookupTime: 0,
        bloomFilterTime: 0,
      },
    };
  }
}
