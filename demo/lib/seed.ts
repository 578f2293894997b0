/**
 * The demo's fake CRM: customers with the kinds of personal data Gatehouse masks (names, emails,
 * phone numbers, card numbers that pass the Luhn check, free-text notes that mention them).
 * Every value is invented; the card numbers are the networks' published test numbers.
 */

/** One seeded customer. */
export interface Customer {
  readonly id: number;
  readonly name: string;
  readonly email: string;
  readonly phone: string;
  readonly card_number: string;
  readonly notes: string;
}

export const CUSTOMERS: readonly Customer[] = [
  { id: 1, name: 'Ada Lovelace', email: 'ada.lovelace@example.com', phone: '+1 415 555 0142', card_number: '4111 1111 1111 1111', notes: 'Prefers email; billing contact is ada.billing@example.org' },
  { id: 2, name: 'Grace Hopper', email: 'grace.hopper@example.com', phone: '+1 212 555 0198', card_number: '5555 5555 5555 4444', notes: 'Paid the last invoice by phone with 4012 8888 8888 1881' },
  { id: 3, name: 'Alan Turing', email: 'alan.turing@example.net', phone: '+44 20 7946 0321', card_number: '3782 822463 10005', notes: 'VIP since 2019' },
  { id: 4, name: 'Katherine Johnson', email: 'k.johnson@example.com', phone: '+1 757 555 0117', card_number: '6011 1111 1111 1117', notes: 'Asked us to stop calling; use kj.private@example.org' },
  { id: 5, name: 'Edsger Dijkstra', email: 'edsger@example.nl', phone: '+31 20 555 0175', card_number: '5105 1051 0510 5100', notes: 'Duplicate of customer 6; safe to delete' },
  { id: 6, name: 'Edsger W. Dijkstra', email: 'ewd@example.nl', phone: '+31 20 555 0176', card_number: '4242 4242 4242 4242', notes: 'Primary account' },
];

/** Marks the table as the demo's own, so the demo never drops a `customers` table it did not create. */
export const DEMO_TABLE_COMMENT = 'gatehouse demo data (safe to drop)';

/** Every sensitive value of the seed: none of them may ever reach the agent or the terminal. */
export function sensitiveValues(): string[] {
  const out: string[] = [];
  for (const c of CUSTOMERS) {
    out.push(c.email, c.card_number, c.card_number.replace(/ /g, ''));
    for (const m of c.notes.matchAll(/[\w.+-]+@[\w.-]+\.\w+|\d{4} \d{4} \d{4} \d{4}/g)) out.push(m[0]);
  }
  return out;
}

const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** SQL that (re)creates and fills the `customers` table. */
export function seedSql(): string {
  const rows = CUSTOMERS.map((c) => `  (${c.id}, ${quote(c.name)}, ${quote(c.email)}, ${quote(c.phone)}, ${quote(c.card_number)}, ${quote(c.notes)})`);
  return [
    'DROP TABLE IF EXISTS customers;',
    'CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, phone text, card_number text, notes text);',
    `COMMENT ON TABLE customers IS ${quote(DEMO_TABLE_COMMENT)};`,
    `INSERT INTO customers (id, name, email, phone, card_number, notes) VALUES\n${rows.join(',\n')};`,
  ].join('\n');
}
