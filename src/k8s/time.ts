// The two timestamp formats of the Kubernetes API, written one way everywhere.

/** metav1.Time: RFC 3339 in UTC with whole seconds (`2026-01-02T03:04:05Z`), as conditions and Events carry. */
export function kubeTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** metav1.MicroTime: RFC 3339 with exactly 6 fractional digits (Leases, events.k8s.io/v1). */
export function microTime(d: Date = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
