# bash completion for coolingctl: command words, their options, and the
# values of the options that take one of a few. The commands and options are
# read from `coolingctl --help` itself (needs no database), so that this
# file never lags behind the CLI's table of commands. The values of --status,
# --role and --kind are written here: tests/unit/test_completion.c fails
# when they differ from the code's tables.

_coolingctl() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()

	case $prev in
	-c | --config | --output | --public-key | --against | --secret-file | --token-file | --cacert)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return
		;;
	--database | --name | --lender | --from | --to | --since-last | --url | --after | --api | --limit | \
		--expires-in) return ;;
	--kind) mapfile -t COMPREPLY < <(compgen -W 'bank mfo' -- "$cur") && return ;;
	--role) mapfile -t COMPREPLY < <(compgen -W 'lender compliance auditor registry antifraud' -- "$cur") && return ;;
	--bucket) mapfile -t COMPREPLY < <(compgen -W 'hour day' -- "$cur") && return ;;
	--format) mapfile -t COMPREPLY < <(compgen -W 'csv jsonl' -- "$cur") && return ;;
	--status) mapfile -t COMPREPLY < <(compgen -W 'cancelled disbursed blocked_by_refusal blocked_by_fraud_claim awaiting_consent awaiting_extra_confirmation cooling awaiting_control_call blocked_by_other_loan awaiting_reconfirmation awaiting_in_person eligible' -- "$cur") && return ;;
	esac

	# The words typed before the cursor that are not options or their values.
	local typed=() i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-c | --config | --database | --output | --public-key | --against | --kind | --role | \
			--bucket | --format | --name | --lender | --from | --to | --since-last | --url | \
			--after | --secret-file | --api | --token-file | --cacert | --status | --limit | \
			--expires-in) ((i++)) ;;
		-*) ;;
		*) typed+=("${COMP_WORDS[i]}") ;;
		esac
	done

	# An import's FILE (refusals, payees, holidays): a file name.
	if [ ${#typed[@]} -eq 2 ] && [ "${typed[1]}" = import ] && [[ $cur != -* ]]; then
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return
	fi

	# One synopsis per command: "lender add ID --kind bank|mfo [--name TEXT]".
	local help
	help=$("${COMP_WORDS[0]}" --help 2>/dev/null) || return
	local words
	words=$(awk -v typed="${typed[*]}" '
		/^commands:/ { in_cmds = 1; next }
		in_cmds && /^$/ { exit }
		in_cmds && /^  [a-z]/ {
			n = split(typed, t, " ")
			k = 0
			for (i = 1; i <= NF && $i ~ /^[a-z]+$/; i++) k++
			same = 1
			for (i = 1; i <= n && i <= k; i++) if (t[i] != $i) same = 0
			if (!same) next
			if (n < k) { print $(n + 1); next }
			# the command is typed: its options
			for (i = k + 1; i <= NF; i++)
				if (match($i, /--[a-z-]+/)) print substr($i, RSTART, RLENGTH)
			print "--help"
		}' <<<"$help" | sort -u)
	if [ ${#typed[@]} -eq 0 ]; then
		words+=$'\n-c\n--config\n--database\n--api\n--token-file\n--cacert\n--help\n--version'
	fi
	if [[ $cur != -* ]]; then
		words=$(grep -v '^-' <<<"$words")
	fi
	mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
}
complete -F _coolingctl coolingctl
