"""The Sleeper Hit Studio Story API: client (`client`, `endpoints`), watch provider (`watch`), sandbox."""
