"""The store's staff: employees with a role and a PIN, what each role may do, their sign-in
sessions on terminals, and the time clock. Employees and sessions live in the store
document (they belong to the store, not to one node); punches in the business day's."""
