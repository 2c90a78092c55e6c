package installer

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

// Shell completion. The scripts hold no list of commands: on every Tab they ask the binary
// itself (urfave/cli's --generate-bash-completion), so commands, flags and the install's
// service names always match the dataeco the user runs.

// completionShells are the shells `dataeco completion` writes a script for.
var completionShells = []string{"bash", "zsh", "fish"}

func (a *App) completionCmd() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "Completes commands, flags and service names.\n\n" +
			"   bash:  echo 'eval \"$(dataeco completion bash)\"' >> ~/.bashrc\n" +
			"   zsh:   echo 'eval \"$(dataeco completion zsh)\"' >> ~/.zshrc     (after compinit)\n" +
			"   fish:  dataeco completion fish > ~/.config/fish/completions/dataeco.fish",
		BashComplete: func(c *cli.Context) { completeWords(c, completionShells) },
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return hint.UsageHint("for example: eval \"$(dataeco completion bash)\"", errors.New("completion takes one shell: bash, zsh or fish"))
			}
			script, ok := completionScript(c.Args().First())
			if !ok {
				return hint.UsageHint("for example: eval \"$(dataeco completion bash)\"", fmt.Errorf("no completion for shell %q: use bash, zsh or fish", c.Args().First()))
			}
			_, err := fmt.Fprint(a.Streams.Out, script)
			return err
		},
	}
}

func completionScript(shell string) (string, bool) {
	switch shell {
	case "bash":
		return bashCompletion, true
	case "zsh":
		return zshCompletion, true
	case "fish":
		return fishCompletion, true
	}
	return "", false
}

// completeServices completes the service names of this install (or of a default install when
// there is none yet), for commands that take services as arguments, such as logs.
func (a *App) completeServices(c *cli.Context) {
	given := c.Args().Slice()
	var names []string
	for _, s := range a.serviceNames(c) {
		if !slices.Contains(given, s) {
			names = append(names, s)
		}
	}
	completeWords(c, names)
}

// serviceNames lists the services of this install (or of a default install when there is
// none yet), sorted. Completion must stay quiet and fast: no file is rendered and every
// failure falls back to the default install.
func (a *App) serviceNames(c *cli.Context) []string {
	ans := model.DefaultAnswers(model.EngineResources{NCPU: 2, MemTotal: 8 << 30})
	if dir, err := a.installDir(c); err == nil {
		if saved, err := model.LoadAnswers(dir); err == nil && saved != nil {
			ans = *saved
		}
	}
	return model.ServiceNames(&ans)
}

// completeWords prints words as the candidates for the next argument, or the command's flags
// when the word being completed starts with a dash.
func completeWords(c *cli.Context, words []string) {
	if completingFlag(os.Args) {
		cli.DefaultCompleteWithFlags(c.Command)(c)
		return
	}
	for _, w := range words {
		fmt.Fprintln(c.App.Writer, w)
	}
}

// completingFlag says whether the word before --generate-bash-completion is a flag being
// typed. It reads the process's arguments, as urfave/cli's own flag completion does: the
// scripts below pass that word only when it starts with a dash.
func completingFlag(args []string) bool {
	n := len(args)
	return n >= 3 && args[n-1] == "--generate-bash-completion" && strings.HasPrefix(args[n-2], "-")
}

// The scripts pass the words before the cursor, plus the current word when it starts with a
// dash, then let the shell filter the candidates by what is typed. After --dir they complete
// directories. They never pass "--": urfave/cli turns completion off when an argument is
// "--", and would run the command instead (`dataeco uninstall --<Tab>` would uninstall), so
// "--" being typed is sent as "-" (every flag), and after a "--" word nothing is completed.

const bashCompletion = `# bash completion for dataeco.
#   this shell:    eval "$(dataeco completion bash)"
#   every shell:   echo 'eval "$(dataeco completion bash)"' >> ~/.bashrc
_dataeco_complete() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=${COMP_WORDS[COMP_CWORD-1]}
    local bin=${COMP_WORDS[0]/#\~/$HOME}
    local line
    local -a args
    COMPREPLY=()
    if [[ $prev == --dir ]]; then
        compopt -o filenames 2>/dev/null
        while IFS= read -r line; do
            COMPREPLY+=("$line")
        done < <(compgen -d -- "$cur")
        return 0
    fi
    args=("${COMP_WORDS[@]:1:COMP_CWORD-1}")
    for line in "${args[@]}"; do
        [[ $line == -- ]] && return 0
    done
    if [[ $cur == -- ]]; then
        args+=(-)
    elif [[ $cur == -* ]]; then
        args+=("$cur")
    fi
    while IFS= read -r line; do
        [[ -n $line ]] && COMPREPLY+=("$line")
    done < <(compgen -W "$("$bin" "${args[@]}" --generate-bash-completion 2>/dev/null)" -- "$cur")
    return 0
}
complete -F _dataeco_complete dataeco
`

const zshCompletion = `#compdef dataeco
# zsh completion for dataeco.
#   this shell:    eval "$(dataeco completion zsh)"       (after compinit)
#   every shell:   dataeco completion zsh > "${fpath[1]}/_dataeco"
_dataeco() {
    local cur=${words[CURRENT]}
    local bin=${words[1]/#\~/$HOME}
    local -a args candidates
    if [[ ${words[CURRENT-1]} == --dir ]]; then
        _files -/
        return
    fi
    args=("${(@)words[2,CURRENT-1]}")
    (( ${args[(Ie)--]} )) && return 1
    if [[ $cur == -- ]]; then
        args+=(-)
    elif [[ $cur == -* ]]; then
        args+=("$cur")
    fi
    candidates=("${(@f)$("$bin" "${(@)args}" --generate-bash-completion 2>/dev/null)}")
    candidates=("${(@)candidates:#}")
    compadd -- "${(@)candidates}"
}
if [[ ${funcstack[1]:-} == _dataeco ]]; then
    _dataeco "$@"
elif (( $+functions[compdef] )); then
    compdef _dataeco dataeco
else
    print -u2 "dataeco completion: run 'autoload -Uz compinit && compinit' before loading it"
fi
`

const fishCompletion = `# fish completion for dataeco.
#   this shell:    dataeco completion fish | source
#   every shell:   dataeco completion fish > ~/.config/fish/completions/dataeco.fish
function __dataeco_complete
    set -l args (commandline -opc)
    set -l bin $args[1]
    set -e args[1]
    set -l cur (commandline -ct)
    contains -- -- $args; and return
    if test "$cur" = --
        set -a args -
    else if string match -q -- '-*' $cur
        set -a args $cur
    end
    $bin $args --generate-bash-completion 2>/dev/null
end
complete -c dataeco -f -a '(__dataeco_complete)'
complete -c dataeco -l dir -x -a '(__fish_complete_directories (commandline -ct))'
`
