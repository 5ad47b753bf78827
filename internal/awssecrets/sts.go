package awssecrets

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Identity is who signs: the answer of sts:GetCallerIdentity.
type Identity struct {
	Account string
	ARN     string
	UserID  string
}

// WhoAmI calls sts:GetCallerIdentity, which needs no IAM permission, for doctor.
func WhoAmI(ctx context.Context, cfg aws.Config) (Identity, error) {
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Identity{}, fmt.Errorf("awssecrets: sts:GetCallerIdentity: %w", err)
	}
	return Identity{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn), UserID: aws.ToString(out.UserId)}, nil
}
