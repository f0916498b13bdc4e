// Memory the host copies into the VM (proxy_on_memory_allocate).
//
// The ABI says every host→VM copy is allocated through the module's allocator
// and the module owns it. On the bid path that is one copy of the request body
// and a few small values (headers, shared data), so a heap allocation per copy
// would put the allocator on the hot path. Instead copies come from a bump
// arena that is rewound when the outermost callback returns: a value the host
// hands us is only valid until the end of the callback that received it
// (every wrapper in hostcalls.ts documents this). Copies that do not fit the
// arena (a model blob, a large configuration, the tail of a callback that reads
// thousands of shared-data values such as the leader's reservation sweep) fall
// back to the heap. They have the same lifetime: each is linked into a list of
// live heap copies and freed when the outermost callback returns, unless
// freeHostCopy() released it earlier. Nothing else frees them, so a caller that
// overwrites a pointer to one (HostBytes reused for the next read) leaks nothing.

const ALIGN: usize = 8;
let arenaStart: usize = 0;
let arenaEnd: usize = 0;
let arenaTop: usize = 0;
let callbackDepth: i32 = 0;
let collectWanted = false;

// A heap copy is preceded by a header {prev, next} linking it into the list of live heap
// copies (16 bytes keeps the copy as aligned as the block heap.alloc returns).
const HEAP_COPY_HEADER: usize = 16;
const NEXT_OFFSET: usize = sizeof<usize>();
let heapCopies: usize = 0;
/** Counts outermost callbacks: a copy made in an earlier one is already freed (HostBytes.release checks). */
let copyEpoch: u32 = 0;

/** (Re)sizes the arena; call from on_vm_start/on_configure, never mid-callback. */
export function reserveHostCopyArena(bytes: usize): void {
  if (arenaEnd - arenaStart >= bytes) return;
  if (arenaStart != 0) heap.free(arenaStart);
  arenaStart = heap.alloc(bytes);
  arenaEnd = arenaStart + bytes;
  arenaTop = arenaStart;
}

/** The allocator export's body. Returns 0 on failure, as the spec asks. */
export function allocateHostCopy(size: usize): usize {
  if (size == 0) size = 1;
  const aligned = (arenaTop + ALIGN - 1) & ~(ALIGN - 1);
  if (arenaStart != 0 && aligned + size <= arenaEnd) {
    arenaTop = aligned + size;
    return aligned;
  }
  const block = heap.alloc(size + HEAP_COPY_HEADER);
  store<usize>(block, 0);
  store<usize>(block + NEXT_OFFSET, heapCopies);
  if (heapCopies != 0) store<usize>(heapCopies, block);
  heapCopies = block;
  return block + HEAP_COPY_HEADER;
}

/**
 * Releases a host copy of the current callback early (arena copies are rewound instead).
 * Only for copies made since the outermost callback began: older ones are already freed.
 */
export function freeHostCopy(ptr: usize): void {
  if (ptr == 0) return;
  if (ptr >= arenaStart && ptr < arenaEnd) return;
  const block = ptr - HEAP_COPY_HEADER;
  const prev = load<usize>(block);
  const next = load<usize>(block + NEXT_OFFSET);
  if (prev != 0) store<usize>(prev + NEXT_OFFSET, next);
  else heapCopies = next;
  if (next != 0) store<usize>(next, prev);
  heap.free(block);
}

/** Frees every heap copy still live (the outermost callback returned). */
function freeHeapCopies(): void {
  let block = heapCopies;
  while (block != 0) {
    const next = load<usize>(block + NEXT_OFFSET);
    heap.free(block);
    block = next;
  }
  heapCopies = 0;
}

/** Which outermost callback host copies belong to (see HostBytes.release). */
@inline export function hostCopyEpoch(): u32 {
  return copyEpoch;
}

/** Called by every export dispatcher on entry. */
@inline export function enterCallback(): void {
  callbackDepth++;
}

/**
 * Asks for a garbage collection when the outermost callback returns.
 *
 * The module uses AssemblyScript's minimal runtime (two-colour mark & sweep
 * without a shadow stack): the incremental runtime's shadow stack spilled
 * every object reference on every call and made the whole bid path twice as
 * slow. The price is that the collector does not see references held in Wasm
 * locals, so it may only run when no callback is on the stack: here, after
 * the outermost one. Callbacks that allocate (configuration, model and sync
 * updates) ask for it; the bid path allocates nothing and never does.
 */
export function collectAfterCallback(): void {
  collectWanted = true;
}

/** Called by every export dispatcher on exit: rewinds the arena, frees heap copies (and collects if asked) after the outermost callback. */
@inline export function leaveCallback(): void {
  callbackDepth--;
  if (callbackDepth <= 0) {
    callbackDepth = 0;
    arenaTop = arenaStart;
    if (heapCopies != 0) freeHeapCopies();
    copyEpoch++;
    if (collectWanted) {
      collectWanted = false;
      __collect();
    }
  }
}

/** Bytes currently used in the arena (for tests and metrics). */
export function hostCopyArenaUsed(): usize {
  return arenaTop - arenaStart;
}
