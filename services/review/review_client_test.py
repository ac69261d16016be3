"""An independent client of autostage.v1.ReviewService: Python grpcio with stubs generated from
proto/ at test time. Run by python_client_redistest.cc against an in-process server that holds
one pending proposal `p-0` on opportunity `opp-0` owned by alice (rep, team east).

Usage: review_client_test.py --target HOST:PORT --proto-root DIR --out DIR
Exit codes: 0 all checks passed, 1 a check failed, 77 grpcio / grpc_tools cannot be imported.
"""

import argparse
import os
import sys
import threading

SKIP = 77


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--proto-root", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    try:
        import grpc
        from grpc_tools import protoc
    except ImportError as e:
        print(f"SKIP: Debian python3-grpcio / python3-grpc-tools not importable: {e}")
        return SKIP

    includes = [args.proto_root]
    try:
        import pkg_resources

        includes.append(pkg_resources.resource_filename("grpc_tools", "_proto"))
    except Exception:  # noqa: BLE001 - the well-known types may come from /usr/include
        pass
    includes.append("/usr/include")
    protos = ["autostage/v1/review.proto", "autostage/v1/proposal.proto"]
    argv = ["protoc"] + [f"-I{d}" for d in includes if os.path.isdir(d)]
    argv += [f"--python_out={args.out}", f"--grpc_python_out={args.out}"] + protos
    if protoc.main(argv) != 0:
        print("FAIL: protoc could not generate the stubs")
        return 1
    sys.path.insert(0, args.out)
    from autostage.v1 import review_pb2, review_pb2_grpc  # noqa: E402

    channel = grpc.insecure_channel(args.target)
    stub = review_pb2_grpc.ReviewServiceStub(channel)
    failures = []

    def md(token):
        return [("authorization", f"Bearer {token}")] if token else []

    def check(what, cond):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    def code_of(fn, request, token):
        try:
            fn(request, metadata=md(token), timeout=10)
            return grpc.StatusCode.OK
        except grpc.RpcError as e:
            return e.code()

    pending = stub.ListPending(review_pb2.ListPendingRequest(), metadata=md("alice"), timeout=10)
    ids = [p.proposal.proposal_id for p in pending.proposals]
    check("alice lists her pending proposal p-0", ids == ["p-0"])
    check("its version is 1", pending.proposals and pending.proposals[0].version == 1)
    check("bob lists nothing", len(stub.ListPending(review_pb2.ListPendingRequest(),
                                                    metadata=md("bob"), timeout=10).proposals) == 0)
    check("no token is UNAUTHENTICATED",
          code_of(stub.ListPending, review_pb2.ListPendingRequest(), None)
          == grpc.StatusCode.UNAUTHENTICATED)
    check("bob may not read alice's proposal",
          code_of(stub.GetProposal, review_pb2.GetProposalRequest(proposal_id="p-0"), "bob")
          == grpc.StatusCode.PERMISSION_DENIED)

    # Ingest submits a further proposal twice: stored, then acknowledged as a duplicate.
    from autostage.v1 import proposal_pb2  # noqa: E402

    proposal = proposal_pb2.Proposal(proposal_id="py-1", opportunity_id="opp-0",
                                     pipeline="b2b_standard", to_stage="negotiation",
                                     evidence=[proposal_pb2.Evidence(event_id="ev-py",
                                                                     source="chat")])
    submit = review_pb2.SubmitProposalsRequest(proposals=[proposal])
    first = stub.SubmitProposals(submit, metadata=md("ingest"), timeout=10)
    again = stub.SubmitProposals(submit, metadata=md("ingest"), timeout=10)
    check("submit stores", first.results[0].outcome == review_pb2.SUBMIT_OUTCOME_STORED)
    check("resubmit is a duplicate",
          again.results[0].outcome == review_pb2.SUBMIT_OUTCOME_DUPLICATE
          and again.results[0].stored_as == "py-1")
    check("alice may not submit",
          code_of(stub.SubmitProposals, submit, "alice") == grpc.StatusCode.PERMISSION_DENIED)

    # A watch is open for alice until cancelled; ingest may not watch.
    watch = stub.WatchProposals(review_pb2.WatchProposalsRequest(), metadata=md("alice"),
                                timeout=30)
    opened = threading.Event()

    def drain():
        try:
            watch.initial_metadata()
            opened.set()
            for _ in watch:
                pass
        except grpc.RpcError:
            pass

    reader = threading.Thread(target=drain)
    reader.start()
    check("alice's watch opens", opened.wait(10))
    watch.cancel()
    reader.join(10)
    check("alice's watch ends on cancel", watch.code() == grpc.StatusCode.CANCELLED)
    denied = stub.WatchProposals(review_pb2.WatchProposalsRequest(), metadata=md("ingest"),
                                 timeout=10)
    try:
        for _ in denied:
            pass
    except grpc.RpcError:
        pass
    check("ingest may not watch", denied.code() == grpc.StatusCode.PERMISSION_DENIED)

    confirm = review_pb2.ConfirmProposalRequest(proposal_id="p-0", version=1)
    done = stub.ConfirmProposal(confirm, metadata=md("alice"), timeout=10)
    replay = stub.ConfirmProposal(confirm, metadata=md("alice"), timeout=10)
    check("confirm applies", done.status == review_pb2.PROPOSAL_STATUS_CONFIRMED
          and done.decided_by == "alice" and done.change_id == "sc-p-0")
    check("replayed confirm answers the same", replay == done)
    check("reject without reason is INVALID_ARGUMENT",
          code_of(stub.RejectProposal,
                  review_pb2.RejectProposalRequest(proposal_id="py-1", version=1), "alice")
          == grpc.StatusCode.INVALID_ARGUMENT)
    check("unknown proposal is NOT_FOUND",
          code_of(stub.GetProposal, review_pb2.GetProposalRequest(proposal_id="nope"), "admin")
          == grpc.StatusCode.NOT_FOUND)

    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
