"""Domain signals of accounts, for the apps above (social, posts, dispense, ...).

``user_deleting`` is sent by ``user_delete`` inside its transaction, before the
user's tokens, files and row go: each receiver removes what its app holds of the
user through its own services, so counters, files and feeds stay right (nothing
is left to a raw ``ON DELETE CASCADE``). A receiver:

- returns what it removed as ``{"what": how many}`` (or None), for the summary;
- must not depend on the order of the other receivers, and leaves other apps' rows to them;
- may raise: the whole deletion then rolls back;
- does everything outside the database (files, another feed store, messages) on commit,
  because ``user_delete(dry_run=True)`` runs the deletion and rolls it back to count it.

Keyword arguments: ``user`` (the User being deleted).

``user_signed_up`` and ``location_changed`` are sent on commit (losing one costs a counter, nothing
more; analytics counts them):

- ``user_signed_up``: ``user_id: int``, ``created_at: datetime`` (email signup and a first Facebook login);
- ``location_changed``: ``user_id: int``, ``country_code: str`` (blank when the point is in no country),
  ``first: bool`` (the user had no location before).
``logged_out`` is sent by ``tokens_revoke`` once the tokens of a logout are revoked (the API's logout,
deactivating a user, the admin's device delete), so an app can forget what it tied to those devices
(push registrations). Keyword arguments: ``user_id: int``, ``scope`` (``this_device``, ``other_devices``
or ``all_devices``), ``device_id: str | None`` (the device of the token that asked, if known).
"""

from django.dispatch import Signal

user_deleting = Signal()
user_signed_up = Signal()
location_changed = Signal()
logged_out = Signal()
