package values_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/helmutil/values"
)

// setup creates the objects the example reads.
func setup(ctx context.Context, c client.Client) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "values-example-"}}
	if err := c.Create(ctx, ns); err != nil {
		return "", err
	}
	objs := []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "podinfo-values"},
			Data: map[string]string{"values.yaml": "replicaCount: 2\nimage:\n  tag: 6.7.0\n"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "podinfo-db"},
			Data: map[string][]byte{"password": []byte("s3cret")}},
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return "", err
		}
	}
	return ns.Name, nil
}

func ExampleCompose() {
	ctx := context.Background()
	c := values.EnvClient() // an uncached client: Secrets are read directly
	ns, err := setup(ctx, c)
	if err != nil {
		fmt.Println(err)
		return
	}

	res, err := values.Compose(ctx, c, []values.Reference{
		{Kind: values.KindConfigMap, Name: "podinfo-values"}, // key values.yaml
		{Kind: values.KindSecret, Name: "podinfo-db", ValuesKey: "password", TargetPath: "db.password"},
		{Kind: values.KindSecret, Name: "podinfo-extra", Optional: true}, // absent: skipped
	}, map[string]any{"replicaCount": 3}, values.Options{Namespace: ns})
	if err != nil {
		fmt.Println(err) // names the reference and key, never a value
		return
	}
	fmt.Println(res.Values["replicaCount"], res.Values["image"], res.Values["db"])
	fmt.Println(len(res.Checksum), res.Sensitive) // mask these wherever errors are shown
	// Output:
	// 3 map[tag:6.7.0] map[password:s3cret]
	// 71 [s3cret]
}
