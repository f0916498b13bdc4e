// Allocation counting for the filter's allocation-tracing build
// (build/nexus_filter.rtrace.wasm, compiled with ASC_RTRACE): the "rtrace"
// imports AssemblyScript's runtime calls on every allocation and free.
export class AllocationCounter {
  counting = false;
  allocations = 0;
  frees = 0;
  collections = 0;

  /** The instrumentation imports for startSimBidder({ instrumentation }). */
  imports(): Record<string, Record<string, (...args: number[]) => unknown>> {
    return {
      rtrace: {
        onalloc: () => {
          if (this.counting) this.allocations++;
        },
        onfree: () => {
          if (this.counting) this.frees++;
        },
        onrealloc: () => {
          if (this.counting) this.allocations++;
        },
        oninit: () => {},
        onvisit: () => 1,
        // Instrumented stores ask where to write: the address itself.
        onstore: (ptr: number) => ptr,
        onmove: () => {},
        onresize: () => {},
        oninterrupt: () => {},
        onyield: () => {},
        // The minimal runtime's collector (runs only after the outermost callback).
        oncollect: () => {
          if (this.counting) this.collections++;
        },
      },
    };
  }
}
