package installer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/AlecAivazis/survey/v2"
	"github.com/AlecAivazis/survey/v2/terminal"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
)

// Prompter asks the user questions. Commands only see this interface, so tests answer with a
// fake and nothing prompts without a terminal.
type Prompter interface {
	MultiSelect(message string, options, defaults []string) ([]string, error)
	Input(message, def string, validate func(string) error) (string, error)
	Confirm(message string, def bool) (bool, error)
}

// surveyPrompter asks through survey, on the given streams.
type surveyPrompter struct {
	in  terminal.FileReader
	out terminal.FileWriter
	err terminal.FileWriter
}

// NewSurveyPrompter needs real terminal files: survey puts the terminal in raw mode.
func NewSurveyPrompter(s *IOStreams) (Prompter, error) {
	in, ok1 := s.In.(terminal.FileReader)
	errOut, ok2 := s.ErrOut.(terminal.FileWriter)
	if !ok1 || !ok2 {
		return nil, errors.New("prompts need a terminal")
	}
	// Questions are not results: they go to stderr, so stdout stays clean for scripts.
	return &surveyPrompter{in: in, out: errOut, err: errOut}, nil
}

func (p *surveyPrompter) opts() survey.AskOpt { return survey.WithStdio(p.in, p.out, p.err) }

func (p *surveyPrompter) MultiSelect(message string, options, defaults []string) ([]string, error) {
	var out []string
	q := &survey.MultiSelect{Message: message, Options: options, Default: defaults}
	err := survey.AskOne(q, &out, p.opts())
	return out, promptErr(err)
}

func (p *surveyPrompter) Input(message, def string, validate func(string) error) (string, error) {
	var out string
	q := &survey.Input{Message: message, Default: def}
	err := survey.AskOne(q, &out, p.opts(), survey.WithValidator(func(ans any) error {
		s, _ := ans.(string)
		return validate(s)
	}))
	return out, promptErr(err)
}

func (p *surveyPrompter) Confirm(message string, def bool) (bool, error) {
	var out bool
	err := survey.AskOne(&survey.Confirm{Message: message, Default: def}, &out, p.opts())
	return out, promptErr(err)
}

// promptErr turns Ctrl-C at a prompt into an interruption (exit 130).
func promptErr(err error) error {
	if errors.Is(err, terminal.InterruptErr) {
		return fmt.Errorf("%w at a prompt", hint.ErrInterrupted)
	}
	return err
}

// asker asks the model's settings through a Prompter. A reply is parsed once: the validator
// keeps what it parsed, and that is what applies.
type asker struct{ p Prompter }

func (q asker) Ask(s model.Setting, current *model.Answers) (model.Apply, error) {
	if s.Flag == "components" {
		chosen, err := q.p.MultiSelect(s.Prompt, model.Components(), current.Components)
		if err != nil {
			return nil, err
		}
		if len(chosen) == 0 {
			chosen = []string{model.CompKafka}
		}
		return s.Parse(strings.Join(chosen, ","))
	}
	var parsed model.Apply
	v, err := q.p.Input(s.Prompt, s.Get(current), func(v string) error {
		apply, err := s.Parse(v)
		if err == nil {
			parsed = apply
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if parsed == nil { // a prompt that returned without validating
		return s.Parse(v)
	}
	return parsed, nil
}
