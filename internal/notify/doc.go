// Package notify carries cluster notices between replicas over Redis
// pub/sub: a replica that changes shared state it also caches (a signing
// key rotated, a session revoked, the configuration reloaded) publishes a
// small Notice, and every other replica subscribed to the same channel
// learns of it at once and refreshes its cache.
//
// Notices are hints, not a log: pub/sub delivers only to subscribers
// connected at the time, so a replica that was cut off from Redis gets a
// local KindResync notice when its subscription comes back and should
// reload what it caches from the shared store.
package notify
