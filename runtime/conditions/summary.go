package conditions

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Summary says how Ready follows from the conditions a controller owns.
type Summary struct {
	// Owned lists the positive-polarity condition types, other than Ready,
	// that this controller sets (for example "SourceVerified"). One that is
	// False makes Ready False; one that is Unknown makes Ready Unknown.
	// Conditions the controller does not own never affect Ready.
	Owned []string
	// NegativePolarity lists the abnormal-true types, other than Reconciling
	// and Stalled, that this controller sets (for example "FetchFailed").
	// One that is True makes Ready False. Like Reconciling and Stalled, they
	// are removed when not True.
	NegativePolarity []string
	// SuccessReason and SuccessMessage are used for Ready=True unless the
	// controller has already marked Ready True itself. The default reason is
	// SucceededReason.
	SuccessReason  string
	SuccessMessage string
}

// Summarize computes Ready from the other conditions, first rule that applies:
//
//  1. Stalled=True: Ready=False with Stalled's reason and message.
//  2. a negative-polarity condition True: Ready=False with its reason and message.
//  3. an owned condition False: Ready=False with its reason and message.
//  4. Reconciling=True: Ready=Unknown with Reconciling's reason and message.
//  5. an owned condition Unknown: Ready=Unknown with its reason and message.
//  6. otherwise Ready=True.
//
// An owned condition that is absent does not affect Ready.
//
// Earlier types in Owned and NegativePolarity take precedence. Reconciling,
// Stalled and the NegativePolarity types that are not True are removed, as
// kstatus expects: their presence alone must mean something is wrong.
func Summarize(to Setter, s Summary) {
	negative := append([]string{Stalled, Reconciling}, s.NegativePolarity...)
	for _, t := range negative {
		if c := Get(to, t); c != nil && c.Status != metav1.ConditionTrue {
			Delete(to, t)
		}
	}

	if c := Get(to, Stalled); c != nil {
		MarkFalse(to, Ready, c.Reason, "%s", c.Message)
		return
	}
	for _, t := range s.NegativePolarity {
		if c := Get(to, t); c != nil {
			MarkFalse(to, Ready, c.Reason, "%s", c.Message)
			return
		}
	}
	for _, t := range s.Owned {
		if c := Get(to, t); c != nil && c.Status == metav1.ConditionFalse {
			MarkFalse(to, Ready, c.Reason, "%s", c.Message)
			return
		}
	}
	if c := Get(to, Reconciling); c != nil {
		MarkUnknown(to, Ready, c.Reason, "%s", c.Message)
		return
	}
	for _, t := range s.Owned {
		if c := Get(to, t); c != nil && c.Status == metav1.ConditionUnknown {
			MarkUnknown(to, Ready, c.Reason, "%s", c.Message)
			return
		}
	}
	if IsTrue(to, Ready) {
		// The controller said why it is ready; keep its words, refresh
		// observedGeneration.
		c := Get(to, Ready)
		Set(to, *c)
		return
	}
	reason := s.SuccessReason
	if reason == "" {
		reason = SucceededReason
	}
	MarkTrue(to, Ready, reason, "%s", s.SuccessMessage)
}
