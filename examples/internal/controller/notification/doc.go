// Package notification holds gitopsd's reconcilers of the
// notification.gitopskit.dev kinds: Provider and Alert, which the
// in-process event hub (events/hub) routes and delivers events with, and
// Receiver, which publishes the webhook path gitopsd's receiver server
// (events/receivers) listens on.
//
// ReceiverToken, ReceiverResources and IndexWebhookPath are what that
// server shares with the Receiver reconciler: the token read from the
// Receiver's Secret, its resources resolved to gitopsd's kinds only, and
// the field index that finds a Receiver by its path.
package notification
