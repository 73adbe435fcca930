/**
 * What makes two resources "the same kind" so that their quantities combine: name, type, role,
 * reservation and disk info. Internal to the algebra.
 *
 * A reserved role without reservation info is taken as a STATIC reservation (what an agent's
 * configuration makes), and on the unreserved role `'*'` reservation info is ignored, so every
 * resource has exactly one canonical identity.
 *
 * @module
 */

import type { DiskInfo, ReservationInfo, Resource } from '../protocol/resources.js';
import { UNRESERVED_ROLE } from '../protocol/resources.js';

const STATIC: ReservationInfo = Object.freeze({ type: 'STATIC' });

/** The role of a resource, `'*'` when absent. */
export function roleOf(r: Resource): string {
  return r.role ?? UNRESERVED_ROLE;
}

/** The effective reservation: `undefined` for unreserved, STATIC when a reserved role has none. */
export function reservationOf(r: Resource): ReservationInfo | undefined {
  if (roleOf(r) === UNRESERVED_ROLE) return undefined;
  return r.reservation ?? STATIC;
}

function isEmptyRecord(record: Record<string, string> | undefined): boolean {
  if (record === undefined) return true;
  for (const _ in record) return false;
  return true;
}

function sameRecord(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  if (isEmptyRecord(a)) return isEmptyRecord(b);
  if (isEmptyRecord(b)) return false;
  let size = 0;
  for (const key in a) {
    if (!Object.hasOwn(b!, key) || b![key] !== a![key]) return false;
    size++;
  }
  for (const _ in b) size--;
  return size === 0;
}

function sameReservation(a: ReservationInfo | undefined, b: ReservationInfo | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return a.type === b.type && a.principal === b.principal && sameRecord(a.labels, b.labels);
}

function isEmptyDisk(d: DiskInfo | undefined): boolean {
  return d === undefined || (d.persistence === undefined && d.volume === undefined);
}

function sameDisk(a: DiskInfo | undefined, b: DiskInfo | undefined): boolean {
  if (isEmptyDisk(a)) return isEmptyDisk(b);
  if (isEmptyDisk(b)) return false;
  const pa = a!.persistence;
  const pb = b!.persistence;
  const va = a!.volume;
  const vb = b!.volume;
  return (
    (pa === pb || (pa !== undefined && pb !== undefined && pa.id === pb.id && pa.principal === pb.principal)) &&
    (va === vb || (va !== undefined && vb !== undefined && va.containerPath === vb.containerPath && va.mode === vb.mode))
  );
}

/** Whether two resources have the same identity, so their quantities combine. */
export function sameIdentity(a: Resource, b: Resource): boolean {
  return (
    a.name === b.name &&
    a.type === b.type &&
    roleOf(a) === roleOf(b) &&
    sameReservation(reservationOf(a), reservationOf(b)) &&
    sameDisk(a.disk, b.disk)
  );
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function reservationKey(r: ReservationInfo | undefined): string {
  if (r === undefined) return '';
  const labels = r.labels === undefined ? [] : Object.entries(r.labels).sort((x, y) => compareStrings(x[0], y[0]));
  return JSON.stringify([r.type, r.principal ?? null, labels]);
}

function diskKey(d: DiskInfo | undefined): string {
  if (isEmptyDisk(d)) return '';
  const p = d!.persistence;
  const v = d!.volume;
  return JSON.stringify([p?.id ?? null, p?.principal ?? null, v?.containerPath ?? null, v?.mode ?? null]);
}

/**
 * The canonical order of identities: by name, then role, then type, reservation and disk info.
 * Returns 0 exactly for the same identity.
 */
export function compareIdentity(a: Resource, b: Resource): number {
  return (
    compareStrings(a.name, b.name) ||
    compareStrings(roleOf(a), roleOf(b)) ||
    compareStrings(a.type, b.type) ||
    // Only reached for the same name, role and type: rare, so the string keys cost little.
    compareStrings(reservationKey(reservationOf(a)), reservationKey(reservationOf(b))) ||
    compareStrings(diskKey(a.disk), diskKey(b.disk))
  );
}

/** A fresh, canonical copy of a reservation (no empty labels, no undefined fields). */
export function copyReservation(r: ReservationInfo): ReservationInfo {
  const out: ReservationInfo = { type: r.type };
  if (r.principal !== undefined) out.principal = r.principal;
  if (!isEmptyRecord(r.labels)) out.labels = { ...r.labels };
  return out;
}

/** A fresh, canonical copy of disk info, or `undefined` when it says nothing. */
export function copyDisk(d: DiskInfo | undefined): DiskInfo | undefined {
  if (d === undefined || isEmptyDisk(d)) return undefined;
  const out: DiskInfo = {};
  if (d.persistence !== undefined) {
    out.persistence = { id: d.persistence.id };
    if (d.persistence.principal !== undefined) out.persistence.principal = d.persistence.principal;
  }
  if (d.volume !== undefined) out.volume = { containerPath: d.volume.containerPath, mode: d.volume.mode };
  return out;
}

/** Whether a reservation or disk info is already in the form {@link copyReservation}/{@link copyDisk} give. */
export function isCanonicalExtras(r: Resource): boolean {
  const reservation = r.reservation;
  if (roleOf(r) === UNRESERVED_ROLE) {
    if (reservation !== undefined) return false;
  } else if (
    reservation === undefined ||
    ('principal' in reservation && reservation.principal === undefined) ||
    ('labels' in reservation && isEmptyRecord(reservation.labels))
  ) {
    return false;
  }
  return !('disk' in r) || !isEmptyDisk(r.disk);
}
