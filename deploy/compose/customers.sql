-- The quick-start's sample database (service "customers", database crm): fake customer records
-- with the kinds of personal data Gatehouse masks. Every value is invented; the card numbers are
-- the card networks' published test numbers. Run once by the PostgreSQL image's entrypoint.
CREATE TABLE customers (
  id int PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL,
  phone text,
  card_number text,
  notes text
);
INSERT INTO customers (id, name, email, phone, card_number, notes) VALUES
  (1, 'Ada Lovelace', 'ada.lovelace@example.com', '+1 415 555 0142', '4111 1111 1111 1111', 'Prefers email; billing contact is ada.billing@example.org'),
  (2, 'Grace Hopper', 'grace.hopper@example.com', '+1 212 555 0198', '5555 5555 5555 4444', 'Paid the last invoice by phone with 4012 8888 8888 1881'),
  (3, 'Alan Turing', 'alan.turing@example.net', '+44 20 7946 0321', '3782 822463 10005', 'VIP since 2019'),
  (4, 'Katherine Johnson', 'k.johnson@example.com', '+1 757 555 0117', '6011 1111 1111 1117', 'Asked us to stop calling; use kj.private@example.org'),
  (5, 'Edsger Dijkstra', 'edsger@example.nl', '+31 20 555 0175', '5105 1051 0510 5100', 'Duplicate of customer 6; safe to delete'),
  (6, 'Edsger W. Dijkstra', 'ewd@example.nl', '+31 20 555 0176', '4242 4242 4242 4242', 'Primary account');

-- The role Gatehouse connects with: least privilege, no superuser (its password is set by
-- 20-app-password.sh from the customers_password secret).
CREATE ROLE gatehouse_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
REVOKE ALL ON DATABASE crm FROM PUBLIC;
GRANT CONNECT ON DATABASE crm TO gatehouse_app;
GRANT USAGE ON SCHEMA public TO gatehouse_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON customers TO gatehouse_app;
